"""gep.accounts"""
