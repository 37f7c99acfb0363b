"""gep.processes"""
