"""gep.algorithms"""
