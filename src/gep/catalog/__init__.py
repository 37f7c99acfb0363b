"""gep.catalog"""
