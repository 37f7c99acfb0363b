"""gep.api"""
