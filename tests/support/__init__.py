"""Helpers the tests share, imported as ``tests.support.<module>`` (``pythonpath = ["."]`` in
the pytest configuration): a package path, not a bare module name, so that no helper depends
on which test directory pytest happened to put on ``sys.path`` first. Pytest fixtures stay in
``tests/conftest.py``; what is here is plain code any test, fixture or server script may call.
"""
