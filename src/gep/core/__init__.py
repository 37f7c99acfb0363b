"""gep.core"""
