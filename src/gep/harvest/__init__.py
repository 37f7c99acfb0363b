"""gep.harvest"""
