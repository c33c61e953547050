"""SageMaker pipelines of this project, and the commands that build and run them."""

__version__ = "1.0.0"
