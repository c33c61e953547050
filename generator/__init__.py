"""Generator of the secure SageMaker custom project templates."""

__version__ = "0.1.0"
