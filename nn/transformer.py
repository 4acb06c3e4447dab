"""Multi-head attention and the Transformer's encoder and decoder stacks, over engine ops.

Attention is a few batched products and a softmax, so backward needs no formula of its
own. Parameter names, shapes, order and initialisation are PyTorch's, so state dicts
load either way, and the layout is PyTorch's too: (sequence, batch, feature) unless
batch_first. Masks follow PyTorch's attention convention: in a bool mask True marks a
position that may NOT be attended to; a float mask is added to the scores.
"""
import copy
import math

import engine

from . import functional as F
from . import init
from .containers import ModuleList
from .layers import Dropout, LayerNorm, Linear
from .module import Module
from .parameter import Parameter


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under PyTorch's name for attention's output projection, so that reprs
    and state dicts read the same."""


def _additive(mask, name, dtype):
    """A mask as scores to add: bool True becomes -inf; a float mask is already that."""
    if mask is None:
        return None
    if mask.dtype is engine.bool:
        return engine.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            mask, -math.inf)
    if not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {name} are supported, "
                             f"got {mask.dtype}")
    return mask


class MultiheadAttention(Module):
    """Attention from `num_heads` heads at once: each projects the query, key and value to
    embed_dim / num_heads features, attends, and the heads' results are joined and
    projected back. forward returns (output, weights averaged over heads or not)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError(f"embed_dim must be divisible by num_heads, got "
                                 f"embed_dim={embed_dim} and num_heads={num_heads}")
        super().__init__()
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.head_dim = embed_dim // num_heads

        def empty(*shape):
            return Parameter(engine.empty(shape, dtype=dtype, device=device))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = empty(embed_dim, embed_dim)
            self.k_proj_weight = empty(embed_dim, self.kdim)
            self.v_proj_weight = empty(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = empty(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k, self.bias_v = empty(1, 1, embed_dim), empty(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        """PyTorch's: Glorot-uniform projections, zero biases, Glorot-normal bias_k/v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        batched = query.dim() == 3
        self._check_shapes(query, key, value, key_padding_mask, attn_mask, batched)
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint: "
                               "Transformer.generate_square_subsequent_mask makes one")
        if not batched:  # one sequence: a batch of one, in the middle dim
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        out, weights = self._attend(query, key, value,
                                    _additive(key_padding_mask, "key_padding_mask",
                                              query.dtype),
                                    _additive(attn_mask, "attn_mask", query.dtype))
        if need_weights and average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, (weights if need_weights else None)

    def _project(self, query, key, value):
        """The query, key and value projections (one product when they are one tensor)."""
        E = self.embed_dim
        b = self.in_proj_bias
        b_q, b_k, b_v = b.chunk(3) if b is not None else (None, None, None)
        if not self._qkv_same_embed_dim:
            return (F.linear(query, self.q_proj_weight, b_q),
                    F.linear(key, self.k_proj_weight, b_k),
                    F.linear(value, self.v_proj_weight, b_v))
        w = self.in_proj_weight
        if query is key and key is value:
            return F.linear(query, w, b).chunk(3, -1)
        return (F.linear(query, w[:E], b_q), F.linear(key, w[E:2 * E], b_k),
                F.linear(value, w[2 * E:], b_v))

    def _attend(self, query, key, value, padding, mask):
        """(L, N, E) in, (L, N, E) out and the weights (N, heads, L, S): the heads ride
        in the batch dim of the products."""
        L, N, E = query.shape
        H, D = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)
        if mask is not None and mask.dim() == 2:
            mask = mask.unsqueeze(0)
        if self.bias_k is not None:  # one more key and value, learned, for every sequence
            k = engine.cat([k, self.bias_k.repeat(1, N, 1)])
            v = engine.cat([v, self.bias_v.repeat(1, N, 1)])
            mask, padding = _one_more_key(mask), _one_more_key(padding)
        q, k, v = (x.reshape(x.shape[0], N * H, D).transpose(0, 1) for x in (q, k, v))
        if self.add_zero_attn:  # one more key and value, all zeros
            zeros = engine.zeros((N * H, 1, D), dtype=k.dtype, device=k.device)
            k, v = engine.cat([k, zeros], 1), engine.cat([v, zeros], 1)
            mask, padding = _one_more_key(mask), _one_more_key(padding)
        S = k.shape[1]
        if padding is not None:
            padding = padding.reshape(N, 1, 1, S).expand(N, H, 1, S).reshape(N * H, 1, S)
            mask = padding if mask is None else mask + padding
        scores = (q * math.sqrt(1.0 / D)) @ k.transpose(1, 2)
        if mask is not None:
            scores = scores + mask
        weights = F.dropout(F.softmax(scores, -1), self.dropout, self.training)
        out = (weights @ v).transpose(0, 1).reshape(L * N, E)
        out = self.out_proj(out).reshape(L, N, E)
        return out, weights.reshape(N, H, L, S)

    def _check_shapes(self, query, key, value, key_padding_mask, attn_mask, batched):
        """PyTorch's checks, with the shapes named."""
        if query.dim() not in (2, 3):
            raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but "
                                 f"received {query.dim()}-D query tensor")
        kind = "batched (3-D)" if batched else "unbatched (2-D)"
        if key.dim() != query.dim() or value.dim() != query.dim():
            raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be "
                                 f"{query.dim()}-D but found {key.dim()}-D and "
                                 f"{value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != query.dim() - 1:
            raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be "
                                 f"`None` or {query.dim() - 1}-D but found "
                                 f"{key_padding_mask.dim()}-D tensor instead")
        if query.shape[-1] != self.embed_dim:
            raise AssertionError(f"was expecting embedding dimension of {self.embed_dim}, "
                                 f"but got {query.shape[-1]} (query {tuple(query.shape)})")
        if key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise AssertionError(f"expected key and value with {self.kdim} and {self.vdim} "
                                 f"features, got key {tuple(key.shape)} and value "
                                 f"{tuple(value.shape)}")
        if key.shape[:-1] != value.shape[:-1]:
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:-1])} do "
                                 f"not match value's {tuple(value.shape[:-1])}")
        seq = 1 if self.batch_first and batched else 0
        if key_padding_mask is not None and batched:
            expected = (query.shape[1 - seq], key.shape[seq])
            if tuple(key_padding_mask.shape) != expected:
                raise RuntimeError(f"expected key_padding_mask of shape {expected}, got "
                                   f"{tuple(key_padding_mask.shape)}")
        if attn_mask is not None:
            L, S = query.shape[seq], key.shape[seq]
            N = query.shape[1 - seq] if batched else 1
            allowed = [(L, S), (N * self.num_heads, L, S)]
            if tuple(attn_mask.shape) not in allowed[:1 if not batched else 2]:
                raise RuntimeError(f"The shape of attn_mask is {tuple(attn_mask.shape)}, but "
                                   f"should be {allowed[0]} or {allowed[1]}")


def _one_more_key(mask):
    """A mask widened by one key that every query may attend to."""
    return None if mask is None else F.pad(mask, (0, 1))


def _activation(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if isinstance(activation, str):
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    return activation


class TransformerEncoderLayer(Module):
    """Self-attention, then a two-layer feed-forward network, each with a residual
    connection and a layer norm (after each block, or before it with norm_first)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        _assemble(self, ("self_attn",), d_model, nhead, dim_feedforward, dropout, activation,
                  layer_norm_eps, batch_first, norm_first, bias, dict(device=device,
                                                                       dtype=dtype))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        def attention(x):
            return self.dropout1(self.self_attn(x, x, x, attn_mask=src_mask,
                                                key_padding_mask=src_key_padding_mask,
                                                need_weights=False, is_causal=is_causal)[0])

        x = src
        if self.norm_first:
            x = x + attention(self.norm1(x))
            return x + _feed_forward_block(self, self.norm2(x), self.dropout2)
        x = self.norm1(x + attention(x))
        return self.norm2(x + _feed_forward_block(self, x, self.dropout2))


class TransformerDecoderLayer(Module):
    """Self-attention over the target, attention from the target to the encoder's output
    (the memory), then the feed-forward network; each with a residual and a layer norm."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        _assemble(self, ("self_attn", "multihead_attn"), d_model, nhead, dim_feedforward,
                  dropout, activation, layer_norm_eps, batch_first, norm_first, bias,
                  dict(device=device, dtype=dtype))

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        def self_attention(x):
            return self.dropout1(self.self_attn(x, x, x, attn_mask=tgt_mask,
                                                key_padding_mask=tgt_key_padding_mask,
                                                need_weights=False,
                                                is_causal=tgt_is_causal)[0])

        def cross_attention(x):
            return self.dropout2(self.multihead_attn(
                x, memory, memory, attn_mask=memory_mask,
                key_padding_mask=memory_key_padding_mask, need_weights=False,
                is_causal=memory_is_causal)[0])

        x = tgt
        if self.norm_first:
            x = x + self_attention(self.norm1(x))
            x = x + cross_attention(self.norm2(x))
            return x + _feed_forward_block(self, self.norm3(x), self.dropout3)
        x = self.norm1(x + self_attention(x))
        x = self.norm2(x + cross_attention(x))
        return self.norm3(x + _feed_forward_block(self, x, self.dropout3))


def _assemble(layer, attentions, d_model, nhead, dim_feedforward, dropout, activation,
              layer_norm_eps, batch_first, norm_first, bias, kw):
    """An encoder or decoder layer's parts, registered in PyTorch's order: the attentions,
    the feed-forward network, then one norm and one dropout per residual block."""
    for name in attentions:
        setattr(layer, name, MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                batch_first=batch_first, **kw))
    layer.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
    layer.dropout = Dropout(dropout)
    layer.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
    layer.norm_first = norm_first
    blocks = range(1, len(attentions) + 2)
    for i in blocks:
        setattr(layer, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
    for i in blocks:
        setattr(layer, f"dropout{i}", Dropout(dropout))
    layer.activation = _activation(activation)


def _feed_forward_block(layer, x, dropout):
    return dropout(layer.linear2(layer.dropout(layer.activation(layer.linear1(x)))))


def _clones(layer, n):
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


class TransformerEncoder(Module):
    """`num_layers` copies of an encoder layer (each with its own parameters), then an
    optional norm."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x


class TransformerDecoder(Module):
    """`num_layers` copies of a decoder layer, each attending to the same memory, then an
    optional norm."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return self.norm(x) if self.norm is not None else x


class Transformer(Module):
    """The encoder-decoder model of "Attention Is All You Need"; every weight matrix
    starts Glorot-uniform, as in PyTorch."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False,
                 norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        kw = dict(dropout=dropout, activation=activation, layer_norm_eps=layer_norm_eps,
                  batch_first=batch_first, norm_first=norm_first, bias=bias, device=device,
                  dtype=dtype)

        def norm():
            return LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device,
                             dtype=dtype)

        self.encoder = custom_encoder or TransformerEncoder(
            TransformerEncoderLayer(d_model, nhead, dim_feedforward, **kw),
            num_encoder_layers, norm())
        self.decoder = custom_decoder or TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, dim_feedforward, **kw),
            num_decoder_layers, norm())
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        batch = 0 if self.batch_first else 1
        if src.dim() == 3 and src.shape[batch] != tgt.shape[batch]:
            raise RuntimeError(f"the batch number of src and tgt must be equal, got src "
                               f"{tuple(src.shape)} and tgt {tuple(tgt.shape)}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"the feature number of src and tgt must be equal to d_model "
                               f"({self.d_model}), got src {tuple(src.shape)} and tgt "
                               f"{tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """A float causal mask: 0 where query i may see key j (j <= i), -inf above."""
        return engine.triu(engine.full((sz, sz), -math.inf, dtype=dtype, device=device),
                           diagonal=1)
