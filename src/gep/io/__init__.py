"""gep.io"""
