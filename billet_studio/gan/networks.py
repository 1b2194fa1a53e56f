"""pix2pix networks: the U-Net generator and the 70x70 PatchGAN discriminator.

They follow the reference implementation (Isola et al., pytorch-CycleGAN-and-pix2pix)
layer for layer, so with its 3-channel input and output the generator has exactly
54,413,955 parameters and the discriminator 2,768,705. Billet Studio feeds a 1-channel
stamp mask and gets a 3-channel RGB stamp.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class NetworkPreset:
    """Generator and discriminator sizes; ``paper`` is the reference unet_256."""

    name: str
    image_size: int
    num_downs: int
    ngf: int
    ndf: int = 64
    n_layers_d: int = 3
    input_nc: int = 1
    output_nc: int = 3


PRESETS = {
    "paper": NetworkPreset("paper", image_size=256, num_downs=8, ngf=64),
    "small": NetworkPreset("small", image_size=128, num_downs=7, ngf=32),
    # For tests and smoke runs: trains in milliseconds a step, renders nothing useful.
    "tiny": NetworkPreset("tiny", image_size=64, num_downs=6, ngf=8, ndf=8),
}


class UnetBlock(nn.Module):
    """One level of the U-Net: down, the levels inside it, up, and the skip connection."""

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None,
                 submodule: nn.Module | None = None, outermost: bool = False,
                 innermost: bool = False, use_dropout: bool = False) -> None:
        super().__init__()
        self.outermost = outermost
        input_nc = outer_nc if input_nc is None else input_nc
        # Batch norm has its own shift, so the convolutions next to it carry no bias.
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=False)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = nn.BatchNorm2d(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = nn.BatchNorm2d(outer_nc)
        layers: list[nn.Module]
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2,
                                        padding=1)
            layers = [downconv, submodule, uprelu, upconv, nn.Tanh()]  # type: ignore[list-item]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1,
                                        bias=False)
            layers = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2,
                                        padding=1, bias=False)
            layers = [downrelu, downconv, downnorm, submodule, uprelu, upconv,  # type: ignore[list-item]
                      upnorm]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net with skips between level i and n-i; ``num_downs`` 8 for 256 px, 7 for 128 px.

    The ``num_downs - 5`` levels just above the innermost one use dropout 0.5 (three for
    unet_256), as in the reference.
    """

    def __init__(self, input_nc: int, output_nc: int, num_downs: int, ngf: int = 64,
                 use_dropout: bool = True) -> None:
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"a U-Net needs at least 5 levels, got {num_downs}")
        block = UnetBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, submodule=block, use_dropout=use_dropout)
        block = UnetBlock(ngf * 4, ngf * 8, submodule=block)
        block = UnetBlock(ngf * 2, ngf * 4, submodule=block)
        block = UnetBlock(ngf, ngf * 2, submodule=block)
        self.model = UnetBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                               outermost=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """The PatchGAN classifier: one logit per 70x70 patch (``n_layers`` 3)."""

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            previous, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(ndf * previous, ndf * mult, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]
        previous, mult = mult, min(2**n_layers, 8)
        layers += [nn.Conv2d(ndf * previous, ndf * mult, 4, 1, 1, bias=False),
                   nn.BatchNorm2d(ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """The reference's 'normal' init: weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(layer.weight, 0.0, gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, gain)
            nn.init.zeros_(layer.bias)


def build_generator(preset: NetworkPreset) -> UnetGenerator:
    generator = UnetGenerator(preset.input_nc, preset.output_nc, preset.num_downs, preset.ngf)
    init_weights(generator)
    return generator


def build_discriminator(preset: NetworkPreset) -> PatchDiscriminator:
    """Conditioned on the mask: it sees the mask and the stamp stacked as channels."""
    discriminator = PatchDiscriminator(preset.input_nc + preset.output_nc, preset.ndf,
                                       preset.n_layers_d)
    init_weights(discriminator)
    return discriminator


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
