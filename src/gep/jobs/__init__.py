"""gep.jobs"""
