"""The multi-GPU Accelerate configs of configs/accelerate load with Accelerate's own reader and name real classes.

They cannot run here (no GPU, no DeepSpeed; Accelerate does not use FSDP on CPU: configs/accelerate/README.md)."""
from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.utils import DistributedType
from diffusers.models.attention import JointTransformerBlock

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "accelerate"
ENGINES = {"fsdp.yaml": DistributedType.FSDP, "deepspeed_zero2.yaml": DistributedType.DEEPSPEED,
           "deepspeed_zero3.yaml": DistributedType.DEEPSPEED}


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_config_loads_with_accelerate(name):
    config = load_config_from_file(str(CONFIGS / name))  # a TypeError for a key Accelerate does not know
    assert (config.distributed_type, config.mixed_precision, config.num_processes) == (ENGINES[name], "bf16", 4)


def test_fsdp_wraps_the_sd3_block_class():
    config = load_config_from_file(str(CONFIGS / "fsdp.yaml"))
    assert config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == JointTransformerBlock.__name__
    assert config.fsdp_config["fsdp_version"] == 2


def test_zero3_offloads_the_optimizer():
    config = load_config_from_file(str(CONFIGS / "deepspeed_zero3.yaml"))
    assert (config.deepspeed_config["zero_stage"], config.deepspeed_config["offload_optimizer_device"]) == (3, "cpu")


def test_every_file_is_documented():
    readme = (CONFIGS / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in ENGINES)
