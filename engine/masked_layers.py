"""kokoro's layers on a right-padded batch, each item's values as if it ran alone: statistics over
its valid frames only, zeros past its end, LSTMs packed (engine.batching says why each is needed)."""

import torch
from kokoro.istftnet import AdaIN1d, AdainResBlk1d, AdaINResBlock1
from torch import nn

#: AdainResBlk1d's residual scale, computed as kokoro computes it so that products match bit for bit.
_RSQRT2 = torch.rsqrt(torch.tensor(2))


def valid(lengths: torch.Tensor, size: int) -> torch.Tensor:
    """[B, size] bool, True on each item's first `lengths[b]` positions."""
    return torch.arange(size, device=lengths.device) < lengths[:, None]


def mask_of(lengths: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """[B, 1, T] mask in x's dtype for x's time axis: multiplying by it zeroes the padding."""
    return valid(lengths, x.shape[-1]).unsqueeze(1).to(x.dtype)


def packed_lstm(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`lstm` over [B, T, C] as if each item ran alone: packed, the reverse pass starts at each item's end."""
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, _ = lstm(packed)
    return nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]


def masked_adain(adain: AdaIN1d, x: torch.Tensor, style: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """AdaIN1d with its instance norm's statistics over valid frames only; zero on padding.

    The statistics are batched matrix products with the mask and the affine steps fold into one
    multiply-add per element, which keeps this near the cost of kokoro's fused instance norm.
    """
    weights = mask.transpose(1, 2) / mask.sum(dim=-1, keepdim=True)
    centred = x - torch.bmm(x, weights)
    variance = torch.bmm(centred.square(), weights)
    norm = adain.norm
    gamma, beta = adain.fc(style)[:, :, None].chunk(2, dim=1)
    scale = torch.rsqrt(variance + norm.eps) * norm.weight[:, None] * (1 + gamma)
    shift = norm.bias[:, None] * (1 + gamma) + beta
    return torch.addcmul(shift, centred, scale).mul_(mask)


def adain_resblk(
    block: AdainResBlk1d, x: torch.Tensor, style: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """AdainResBlk1d on a padded batch: the output and its valid lengths (doubled if it upsamples)."""
    mask = mask_of(lengths, x)
    h = block.pool(block.actv(masked_adain(block.norm1, x, style, mask)))
    if block.upsample_type != "none":
        lengths = lengths * 2
        mask = mask_of(lengths, h)
        h = h * mask  # the transposed convolution's bias lands on padding, which conv1 reads
    h = block.conv2(block.actv(masked_adain(block.norm2, block.conv1(h), style, mask)))
    return (h + block._shortcut(x)) * _RSQRT2, lengths


def adain_resblock1(block: AdaINResBlock1, x: torch.Tensor, style: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """AdaINResBlock1 on a padded batch: Snake keeps the zeros that adain leaves on padding."""
    layers = zip(block.convs1, block.convs2, block.adain1, block.adain2, block.alpha1, block.alpha2, strict=True)
    for conv1, conv2, adain1, adain2, alpha1, alpha2 in layers:
        xt = masked_adain(adain1, x, style, mask)
        xt = conv1(xt + (1 / alpha1) * (torch.sin(alpha1 * xt) ** 2))
        xt = masked_adain(adain2, xt, style, mask)
        xt = conv2(xt + (1 / alpha2) * (torch.sin(alpha2 * xt) ** 2))
        x = xt + x
    return x
