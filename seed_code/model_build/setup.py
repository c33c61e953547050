"""The project's model-build code: its SageMaker pipelines and the commands that run them."""

from pathlib import Path

from setuptools import find_packages, setup

about = {}
exec((Path(__file__).parent / "pipelines" / "__init__.py").read_text(), about)

setup(
    name="pipelines",
    version=about["__version__"],
    description="SageMaker model-build pipelines of this project",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(exclude=("tests", "tests.*")),
    python_requires=">=3.11",
    # The v2 SDK is the last major with sagemaker.workflow (ProcessingStep, RegisterModel, ...);
    # 3.x removed those import paths.
    install_requires=[
        "sagemaker>=2.257.7,<3",
        "boto3>=1.35,<2",
    ],
    extras_require={
        # The local dry run and the tests; the CodeBuild build needs none of these.
        "local": [
            "xgboost-cpu>=2.1,<4",
            "scikit-learn>=1.4,<2",
            "pandas>=2.2,<4",
            "numpy>=1.26",
        ],
        "test": [
            "pytest>=8,<10",
            "moto[s3,sts,sagemaker]>=5.2,<6",
            "nbformat>=5.10,<6",
            "PyYAML>=6,<7",
        ],
    },
    entry_points={
        "console_scripts": [
            "run-pipeline=pipelines.run_pipeline:run_pipeline_main",
            "get-pipeline-definition=pipelines.run_pipeline:get_pipeline_definition_main",
        ]
    },
)
