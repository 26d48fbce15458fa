"""pytorch-fid's FID Inception with random weights: its activations, for the equivalence tests.

Run as a separate process (PyTorch and TensorFlow in one process crash on import here):

    python tests/evaluation/pytorch_fid_reference.py IN.npz OUT_DIR [--legacy-format]

IN.npz holds ``images_<tag>`` uint8 NHWC batches. The script builds pytorch-fid's own
``InceptionV3`` (``pytorch_fid.inception``: torchvision's Inception3 with the FIDInception
blocks, its bilinear resize to 299 and its [0, 1] -> [-1, 1] normalisation), with a random
state dict in place of the download (batch-norm statistics and scales randomised too, so
that a wrongly mapped or transposed weight shows), saves that state dict as
``OUT_DIR/pt_inception-random.pth`` and writes ``OUT_DIR/activations.npz``: for each tag the
output of every block (NHWC), the pool3 features and the logits (``fc`` of pool3, with and
without its bias).
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import pytorch_fid.inception as pfi

BLOCK_NAMES = (("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1"),
               ("Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2"),
               ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"),
               ("Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool"))


def random_state_dict(seed: int) -> dict:
    """A state dict of pytorch-fid's FID Inception (its exact keys and shapes) with random values."""
    torch.manual_seed(seed)
    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    for name, cls, args in (("Mixed_5b", pfi.FIDInceptionA, (192, 32)), ("Mixed_5c", pfi.FIDInceptionA, (256, 64)),
                            ("Mixed_5d", pfi.FIDInceptionA, (288, 64)), ("Mixed_6b", pfi.FIDInceptionC, (768, 128)),
                            ("Mixed_6c", pfi.FIDInceptionC, (768, 160)), ("Mixed_6d", pfi.FIDInceptionC, (768, 160)),
                            ("Mixed_6e", pfi.FIDInceptionC, (768, 192)), ("Mixed_7b", pfi.FIDInceptionE_1, (1280,)),
                            ("Mixed_7c", pfi.FIDInceptionE_2, (2048,))):
        setattr(net, name, cls(*args))
    state = net.state_dict()
    gen = torch.Generator().manual_seed(seed)
    for key, value in state.items():
        if not value.is_floating_point():
            continue
        if key.endswith("conv.weight"):
            fan_in = value[0].numel()
            state[key] = torch.randn(value.shape, generator=gen) * (2.0 / fan_in) ** 0.5
        elif key.endswith("bn.weight"):
            state[key] = 0.5 + torch.rand(value.shape, generator=gen)
        elif key.endswith("bn.bias"):
            state[key] = 0.1 * torch.randn(value.shape, generator=gen)
        elif key.endswith("running_mean"):
            state[key] = 0.1 * torch.randn(value.shape, generator=gen)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(value.shape, generator=gen)
        elif key.startswith("fc."):
            state[key] = 0.05 * torch.randn(value.shape, generator=gen)
    return state


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("images")
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--legacy-format", action="store_true", help="torch.save in the pre-1.6 stream format")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    state = random_state_dict(args.seed)
    torch.save(state, out / "pt_inception-random.pth", _use_new_zipfile_serialization=not args.legacy_format)
    pfi.load_state_dict_from_url = lambda *a, **k: state  # pytorch-fid's own download, replaced
    net = pfi.InceptionV3(output_blocks=[0, 1, 2, 3]).eval()
    assert pfi.FIDInceptionE_2 in {type(m) for m in net.modules()}

    captured = {}
    for block, names in zip(net.blocks, BLOCK_NAMES):
        for module, name in zip(block, names):
            module.register_forward_hook(lambda _m, _i, output, name=name: captured.__setitem__(name, output))

    results = {}
    with np.load(args.images) as f, torch.no_grad():
        for key in f.files:
            tag = key[len("images_"):]
            images = torch.from_numpy(f[key]).permute(0, 3, 1, 2).float() / 255.0  # pytorch-fid's ToTensor
            captured.clear()
            net(images)
            for name, value in captured.items():
                value = value.numpy()
                results[f"{tag}/{name}"] = value.reshape(value.shape[0], -1) if name == "avgpool" \
                    else value.transpose(0, 2, 3, 1)
            pool3 = captured["avgpool"].flatten(1)
            results[f"{tag}/logits"] = F.linear(pool3, state["fc.weight"], state["fc.bias"]).numpy()
            results[f"{tag}/logits_unbiased"] = F.linear(pool3, state["fc.weight"]).numpy()
    np.savez(out / "activations.npz", **results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
