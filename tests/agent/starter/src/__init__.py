# This file makes the src directory a Python package
