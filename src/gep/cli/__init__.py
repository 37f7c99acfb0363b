"""gep.cli"""
