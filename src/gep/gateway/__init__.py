"""gep.gateway"""
