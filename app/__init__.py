"""csroi: what is our Customer Success team worth?"""

__version__ = "0.1.0"
