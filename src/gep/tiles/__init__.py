"""gep.tiles"""
