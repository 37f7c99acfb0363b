"""gep.client"""
