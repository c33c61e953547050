import os
import sys
from pathlib import Path

# Run from any copy of this repository (an unpacked zip included): its root holds `pipelines`.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
# Keep boto3 and the SDK away from any real account or config on the machine.
for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ.pop(name, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
