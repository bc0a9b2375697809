#!/usr/bin/env python3
"""Convert a Hugging Face BERT checkpoint folder into a llama.cpp GGUF (architecture ``bert``).

Input folder (as sentence-transformers / Hugging Face save it):

    config.json                 BertModel hyper-parameters
    model.safetensors           weights (or model.safetensors.index.json + shards)
    vocab.txt                   WordPiece vocabulary (or tokenizer.json)
    tokenizer_config.json       special tokens, do_lower_case            (optional)
    tokenizer.json              normalizer, post-processor template      (optional)
    modules.json, 1_Pooling/config.json   sentence-transformers pooling  (optional)

The output is deterministic: metadata keys are written in a fixed order, tensors in a fixed
order, and nothing depends on the clock, the host or the input file order, so converting the
same checkpoint twice gives byte-identical files (same sha256).

Output types: ``f32``, ``f16`` and ``q8_0``. As llama.cpp's own converter does, 1-D tensors
(biases, layer-norm weights), the position and token-type embeddings stay F32 whatever the
output type; 2-D weight matrices (token embeddings, attention, feed-forward) take the output
type. A matrix whose rows cannot be split into Q8_0 blocks falls back to F16.

Importable: ``convert(model_dir, out_path, outtype)``. Run as a script:

    python packaging/convert_bert_gguf.py MODEL_DIR OUT.gguf --outtype q8_0

Only the embedding model (``BertModel``) is handled: the pooler and the pre-training heads are
dropped. Cross-encoders (rank pooling with the pooler/classifier head kept) are a planned
extension; the head handling is isolated in ``_head_tensor_name`` / ``_pooling_type`` for it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf
import numpy as np

ARCH = "bert"
OUTTYPES: dict[str, gguf.LlamaFileType] = {
    "f32": gguf.LlamaFileType.ALL_F32,
    "f16": gguf.LlamaFileType.MOSTLY_F16,
    "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
}
_QTYPE_FOR_FILETYPE: dict[gguf.LlamaFileType, gguf.GGMLQuantizationType] = {
    gguf.LlamaFileType.ALL_F32: gguf.GGMLQuantizationType.F32,
    gguf.LlamaFileType.MOSTLY_F16: gguf.GGMLQuantizationType.F16,
    gguf.LlamaFileType.MOSTLY_Q8_0: gguf.GGMLQuantizationType.Q8_0,
}

# Keys llama.cpp reads for its BertNormalizer (not yet in every release of the gguf package).
KEY_NORMALIZER_LOWERCASE = "tokenizer.ggml.normalizer.lowercase"
KEY_NORMALIZER_STRIP_ACCENTS = "tokenizer.ggml.normalizer.strip_accents"

# The WordPiece tokenizer in llama.cpp marks the start of a word with U+2581 instead of marking
# continuations with "##" as Hugging Face does.
_WORD_START = "\u2581"
_CONTINUATION = "##"

_SPECIAL_ROLES = ("cls", "sep", "unk", "pad", "mask")
_SPECIAL_DEFAULTS = {
    "cls": "[CLS]",
    "sep": "[SEP]",
    "unk": "[UNK]",
    "pad": "[PAD]",
    "mask": "[MASK]",
}

# Tensors of a BertModel checkpoint that an embedding GGUF does not carry.
_DROPPED_EXACT = frozenset({"embeddings.position_ids"})
_DROPPED_PREFIXES = ("pooler.", "cls.predictions.", "cls.seq_relationship.")


class ConversionError(ValueError):
    """The checkpoint folder cannot be converted (missing file, unsupported layout)."""


# --------------------------------------------------------------------------------------------
# Reading the checkpoint
# --------------------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def _read_json_if(path: Path) -> Any | None:
    return _read_json(path) if path.is_file() else None


def read_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    if not path.is_file():
        raise ConversionError(f"{path} not found")
    config = _read_json(path)
    model_type = config.get("model_type", "bert")
    if model_type != "bert":
        raise ConversionError(f"model_type {model_type!r} is not 'bert'")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ConversionError("only absolute position embeddings are supported")
    if config.get("hidden_act", "gelu") not in ("gelu", "gelu_new", "gelu_python"):
        raise ConversionError(f"hidden_act {config.get('hidden_act')!r} is not supported")
    for key in (
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
    ):
        if key not in config:
            raise ConversionError(f"config.json has no {key!r}")
    return dict(config)


def _pooling_type(model_dir: Path) -> gguf.PoolingType | None:
    """Pooling from sentence-transformers' modules.json / Pooling config; None if not stated."""
    pooling_dir: Path | None = None
    modules = _read_json_if(model_dir / "modules.json")
    if isinstance(modules, list):
        for module in modules:
            if str(module.get("type", "")).endswith("Pooling"):
                pooling_dir = model_dir / str(module.get("path", ""))
                break
    if pooling_dir is None and (model_dir / "1_Pooling" / "config.json").is_file():
        pooling_dir = model_dir / "1_Pooling"
    if pooling_dir is None:
        return None
    pooling = _read_json(pooling_dir / "config.json")
    if pooling.get("pooling_mode_mean_tokens"):
        return gguf.PoolingType.MEAN
    if pooling.get("pooling_mode_cls_token"):
        return gguf.PoolingType.CLS
    if pooling.get("pooling_mode_lasttoken"):
        return gguf.PoolingType.LAST
    mode = pooling.get("pooling_mode")
    by_name = {
        "mean": gguf.PoolingType.MEAN,
        "cls": gguf.PoolingType.CLS,
        "lasttoken": gguf.PoolingType.LAST,
    }
    if mode in by_name:
        return by_name[mode]
    raise ConversionError(f"unsupported pooling in {pooling_dir / 'config.json'}: {pooling}")


@dataclass(frozen=True)
class Vocab:
    tokens: list[str]  # in llama.cpp's phantom-space form
    token_types: list[int]
    special_ids: dict[str, int]  # role ("cls", "sep", ...) -> id
    lowercase: bool
    strip_accents: bool
    add_bos: bool
    add_eos: bool
    add_sep: bool


def _wordpiece_tokens(model_dir: Path, tokenizer_json: Mapping[str, Any] | None) -> list[str]:
    vocab_txt = model_dir / "vocab.txt"
    if vocab_txt.is_file():
        with vocab_txt.open(encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return [line.rstrip("\r") for line in lines]
    if tokenizer_json is not None:
        model = tokenizer_json.get("model", {})
        if model.get("type") != "WordPiece":
            raise ConversionError(f"tokenizer.json model is {model.get('type')!r}, not WordPiece")
        by_id = {int(i): tok for tok, i in model["vocab"].items()}
        if sorted(by_id) != list(range(len(by_id))):
            raise ConversionError("tokenizer.json vocabulary ids are not contiguous")
        return [by_id[i] for i in range(len(by_id))]
    raise ConversionError(f"no vocab.txt or tokenizer.json in {model_dir}")


def _special_token_text(role: str, *sources: Mapping[str, Any] | None) -> str:
    for source in sources:
        if not source:
            continue
        value = source.get(f"{role}_token")
        if isinstance(value, dict):  # {"content": "[CLS]", ...} in some tokenizer configs
            value = value.get("content")
        if isinstance(value, str) and value:
            return value
    return _SPECIAL_DEFAULTS[role]


def _template_flags(tokenizer_json: Mapping[str, Any] | None) -> tuple[bool, bool, bool]:
    """(add_bos, add_eos, add_sep) as llama.cpp reads them, from the post-processor template.

    BERT's template is ``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]``: a leading special token
    (bos = [CLS]), a trailing one (eos = [SEP]), and only one separator between a pair, so no
    extra ``add_sep`` (RoBERTa's ``</s></s>`` between a pair would set it).
    """
    add_bos, add_eos, add_sep = True, True, False
    post = (tokenizer_json or {}).get("post_processor") or {}
    processors = post.get("processors", [post]) if post else []
    for proc in processors:
        if proc.get("type") == "TemplateProcessing":
            single = proc.get("single", [])
            pair = proc.get("pair", [])
            add_bos = bool(single) and "SpecialToken" in single[0]
            add_eos = bool(single) and "SpecialToken" in single[-1]
            seq_idx = [i for i, part in enumerate(pair) if "Sequence" in part]
            if len(seq_idx) == 2:
                between = pair[seq_idx[0] + 1 : seq_idx[1]]
                add_sep = len(between) >= 2
        elif proc.get("type") == "BertProcessing":
            add_bos, add_eos, add_sep = True, True, False
    return add_bos, add_eos, add_sep


def read_vocab(model_dir: Path, vocab_size: int | None = None) -> Vocab:
    tokenizer_json = _read_json_if(model_dir / "tokenizer.json")
    tokenizer_config = _read_json_if(model_dir / "tokenizer_config.json")
    special_map = _read_json_if(model_dir / "special_tokens_map.json")

    hf_tokens = _wordpiece_tokens(model_dir, tokenizer_json)
    if vocab_size is not None and len(hf_tokens) > vocab_size:
        raise ConversionError(f"vocabulary has {len(hf_tokens)} tokens, config says {vocab_size}")
    n_vocab = vocab_size if vocab_size is not None else len(hf_tokens)
    index = {tok: i for i, tok in enumerate(hf_tokens)}

    special_ids: dict[str, int] = {}
    for role in _SPECIAL_ROLES:
        text = _special_token_text(role, tokenizer_config, special_map)
        if text not in index:
            raise ConversionError(f"special token {role}={text!r} is not in the vocabulary")
        special_ids[role] = index[text]

    control: set[int] = set(special_ids.values())
    for added in (tokenizer_json or {}).get("added_tokens", []):
        if added.get("special") and added.get("content") in index:
            control.add(index[added["content"]])

    tokens: list[str] = []
    types: list[int] = []
    for i in range(n_vocab):
        if i >= len(hf_tokens):
            tokens.append(f"[PAD{i}]")
            types.append(int(gguf.TokenType.UNUSED))
        elif i in control:
            tokens.append(hf_tokens[i])
            types.append(int(gguf.TokenType.CONTROL))
        else:
            tok = hf_tokens[i]
            if tok.startswith(_CONTINUATION) and len(tok) > len(_CONTINUATION):
                tokens.append(tok[len(_CONTINUATION) :])
            else:
                tokens.append(_WORD_START + tok)
            types.append(int(gguf.TokenType.NORMAL))

    normalizer = (tokenizer_json or {}).get("normalizer") or {}
    if normalizer.get("type") == "BertNormalizer":
        lowercase = bool(normalizer.get("lowercase", True))
        strip = normalizer.get("strip_accents")
    else:
        lowercase = bool((tokenizer_config or {}).get("do_lower_case", True))
        strip = (tokenizer_config or {}).get("strip_accents")
    strip_accents = lowercase if strip is None else bool(strip)

    add_bos, add_eos, add_sep = _template_flags(tokenizer_json)
    return Vocab(
        tokens=tokens,
        token_types=types,
        special_ids=special_ids,
        lowercase=lowercase,
        strip_accents=strip_accents,
        add_bos=add_bos,
        add_eos=add_eos,
        add_sep=add_sep,
    )


# --- safetensors (read directly: F32/F16/BF16, single file or sharded) -----------------------

_ST_DTYPES: dict[str, np.dtype[Any]] = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "F64": np.dtype("<f8"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
}


def _safetensors_files(model_dir: Path) -> list[Path]:
    single = model_dir / "model.safetensors"
    if single.is_file():
        return [single]
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(_read_json(index)["weight_map"].values()))
        return [model_dir / n for n in names]
    raise ConversionError(f"no model.safetensors in {model_dir}")


def read_safetensors(path: Path) -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
    """Yield (name, float32 array) for every floating tensor of one .safetensors file."""
    with path.open("rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
    base = 8 + header_len
    blob = np.memmap(path, dtype=np.uint8, mode="r")
    for name in sorted(k for k in header if k != "__metadata__"):
        info = header[name]
        dtype_name = info["dtype"]
        if dtype_name not in _ST_DTYPES:
            raise ConversionError(f"{path.name}: tensor {name} has unsupported dtype {dtype_name}")
        start, end = info["data_offsets"]
        raw = np.frombuffer(blob[base + start : base + end], dtype=_ST_DTYPES[dtype_name])
        raw = raw.reshape(info["shape"])
        if dtype_name == "BF16":
            arr = (raw.astype(np.uint32) << 16).view(np.float32)
        elif dtype_name in ("I64", "I32"):
            yield name, raw  # integer buffers (position_ids); the caller drops them
            continue
        else:
            arr = raw.astype(np.float32)
        yield name, arr


def iter_checkpoint(model_dir: Path) -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
    for path in _safetensors_files(model_dir):
        yield from read_safetensors(path)


# --------------------------------------------------------------------------------------------
# Tensor naming and types
# --------------------------------------------------------------------------------------------


def _normalise_hf_name(name: str) -> str:
    if name.startswith("bert."):
        name = name[len("bert.") :]
    if name.endswith(".gamma"):  # very old checkpoints
        name = name[: -len(".gamma")] + ".weight"
    elif name.endswith(".beta"):
        name = name[: -len(".beta")] + ".bias"
    return name


def _head_tensor_name(name: str) -> str | None:
    """GGUF name of a head tensor to keep, or None to drop it (embedding models keep none).

    Extension point for cross-encoders (pooler -> ``cls``, classifier -> ``cls.output``).
    """
    del name
    return None


def gguf_tensor_name(hf_name: str, name_map: gguf.TensorNameMap) -> str | None:
    """llama.cpp's name for a checkpoint tensor; None if the GGUF does not carry it."""
    name = _normalise_hf_name(hf_name)
    if name in _DROPPED_EXACT:
        return None
    if name.startswith(_DROPPED_PREFIXES):
        return _head_tensor_name(name)
    mapped = name_map.get_name(name, try_suffixes=(".weight", ".bias"))
    if mapped is None:
        raise ConversionError(f"cannot map tensor {hf_name!r} to a llama.cpp BERT tensor")
    return mapped


_KEEP_F32 = (
    gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.POS_EMBD] + ".weight",
    gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.TOKEN_TYPES] + ".weight",
)


def tensor_qtype(
    gguf_name: str, shape: Sequence[int], filetype: gguf.LlamaFileType
) -> gguf.GGMLQuantizationType:
    """The storage type llama.cpp's converter would choose for this tensor."""
    if len(shape) <= 1 or gguf_name.endswith("_norm.weight") or not gguf_name.endswith(".weight"):
        return gguf.GGMLQuantizationType.F32
    if gguf_name in _KEEP_F32:
        return gguf.GGMLQuantizationType.F32
    return _QTYPE_FOR_FILETYPE[filetype]


def encode_tensor(
    data: np.ndarray[Any, Any], qtype: gguf.GGMLQuantizationType
) -> tuple[np.ndarray[Any, Any], gguf.GGMLQuantizationType]:
    """Bytes/array to store and the type actually used (Q8_0 falls back to F16 if impossible)."""
    data = np.ascontiguousarray(data, dtype=np.float32)
    if qtype == gguf.GGMLQuantizationType.F32:
        return data, qtype
    if qtype == gguf.GGMLQuantizationType.F16:
        return data.astype(np.float16), qtype
    try:
        return gguf.quants.quantize(data, qtype), qtype
    except gguf.QuantError:
        return data.astype(np.float16), gguf.GGMLQuantizationType.F16


_BLOCK_RE = re.compile(r"^blk\.(\d+)\.")


def _tensor_sort_key(gguf_name: str) -> tuple[int, str]:
    m = _BLOCK_RE.match(gguf_name)
    return (-1 if m is None else int(m.group(1)), gguf_name)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


@dataclass
class ConversionResult:
    path: Path
    outtype: str
    pooling_type: gguf.PoolingType | None
    n_embd: int
    n_vocab: int
    tensor_types: dict[str, str] = field(default_factory=dict)


def write_gguf(
    out_path: Path,
    config: Mapping[str, Any],
    vocab: Vocab,
    tensors: Mapping[str, tuple[Any, gguf.GGMLQuantizationType]],
    filetype: gguf.LlamaFileType,
    *,
    name: str,
    license: str | None,
    source_url: str | None,
    pooling: gguf.PoolingType | None,
    add_tokens: tuple[bool, bool, bool],
    labels: Sequence[str] | None = None,
) -> dict[str, str]:
    """The GGUF file of a BERT model (an embedder, or a cross-encoder with `labels`): its
    header, tokenizer and tensors, written to a temporary name in the same folder and renamed
    into place. add_tokens: whether the tokenizer adds bos, eos and sep. Returns each
    tensor's type."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=out_path.name + ".", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer = gguf.GGUFWriter(tmp, ARCH)
        # general.* (general.architecture is written by GGUFWriter itself)
        writer.add_type(gguf.GGUFType.MODEL)
        writer.add_name(name)
        if license:
            writer.add_license(license)
        if source_url:
            writer.add_source_url(source_url)
        writer.add_file_type(int(filetype))
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        # architecture hyper-parameters
        writer.add_block_count(int(config["num_hidden_layers"]))
        writer.add_context_length(int(config["max_position_embeddings"]))
        writer.add_embedding_length(int(config["hidden_size"]))
        writer.add_feed_forward_length(int(config["intermediate_size"]))
        writer.add_head_count(int(config["num_attention_heads"]))
        writer.add_layer_norm_eps(float(config.get("layer_norm_eps", 1e-12)))
        writer.add_causal_attention(False)
        if pooling is not None:
            writer.add_pooling_type(pooling)
        if labels is not None:
            writer.add_classifier_output_labels(list(labels))
        _write_tokenizer(writer, config, vocab, add_tokens)
        types: dict[str, str] = {}
        for tname in sorted(tensors, key=_tensor_sort_key):
            data, qtype = tensors[tname]
            writer.add_tensor(tname, data, raw_dtype=qtype)
            types[tname] = qtype.name
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return types


def _write_tokenizer(
    writer: gguf.GGUFWriter,
    config: Mapping[str, Any],
    vocab: Vocab,
    add_tokens: tuple[bool, bool, bool],
) -> None:
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.token_types)
    writer.add_token_type_count(int(config.get("type_vocab_size", 1)))
    ids = vocab.special_ids
    writer.add_bos_token_id(ids["cls"])  # llama.cpp's WPM tokenizer prepends "bos"
    writer.add_eos_token_id(ids["sep"])
    writer.add_unk_token_id(ids["unk"])
    writer.add_sep_token_id(ids["sep"])  # ... and appends "sep"
    writer.add_pad_token_id(ids["pad"])
    writer.add_mask_token_id(ids["mask"])
    add_bos, add_eos, add_sep = add_tokens
    writer.add_add_bos_token(add_bos)
    writer.add_add_eos_token(add_eos)
    writer.add_add_sep_token(add_sep)
    writer.add_bool(KEY_NORMALIZER_LOWERCASE, vocab.lowercase)
    writer.add_bool(KEY_NORMALIZER_STRIP_ACCENTS, vocab.strip_accents)


def convert(
    model_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    outtype: str = "f16",
    *,
    name: str | None = None,
    license: str | None = None,
    source_url: str | None = None,
) -> ConversionResult:
    """Convert the BERT checkpoint in ``model_dir`` to a GGUF file at ``out_path``.

    The file is written to a temporary name in the same folder and renamed into place.
    """
    model_dir = Path(model_dir)
    out_path = Path(out_path)
    if outtype not in OUTTYPES:
        raise ConversionError(f"outtype must be one of {sorted(OUTTYPES)}, not {outtype!r}")
    filetype = OUTTYPES[outtype]

    config = read_config(model_dir)
    n_layer = int(config["num_hidden_layers"])
    n_embd = int(config["hidden_size"])
    vocab = read_vocab(model_dir, config.get("vocab_size"))
    pooling = _pooling_type(model_dir)

    # Map and convert every tensor first (checks completeness before anything is written).
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layer)
    tensors: dict[str, tuple[np.ndarray[Any, Any], gguf.GGMLQuantizationType]] = {}
    for hf_name, data in iter_checkpoint(model_dir):
        new_name = gguf_tensor_name(hf_name, name_map)
        if new_name is None:
            continue
        if new_name in tensors:
            raise ConversionError(f"two checkpoint tensors map to {new_name}")
        qtype = tensor_qtype(new_name, data.shape, filetype)
        tensors[new_name] = encode_tensor(data, qtype)

    token_embd = gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.TOKEN_EMBD] + ".weight"
    if token_embd not in tensors:
        raise ConversionError("checkpoint has no word embeddings")

    types = write_gguf(
        out_path,
        config,
        vocab,
        tensors,
        filetype,
        name=name or model_dir.name,
        license=license,
        source_url=source_url,
        pooling=pooling,
        add_tokens=(vocab.add_bos, vocab.add_eos, vocab.add_sep),
    )
    return ConversionResult(
        path=out_path,
        outtype=outtype,
        pooling_type=pooling,
        n_embd=n_embd,
        n_vocab=len(vocab.tokens),
        tensor_types=types,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="Hugging Face BERT checkpoint folder")
    parser.add_argument("out_path", type=Path, help="GGUF file to write")
    parser.add_argument("--outtype", choices=sorted(OUTTYPES), default="f16")
    parser.add_argument("--name", default=None, help="general.name (default: folder name)")
    parser.add_argument("--license", default=None)
    parser.add_argument("--source-url", default=None)
    args = parser.parse_args(argv)
    try:
        result = convert(
            args.model_dir,
            args.out_path,
            args.outtype,
            name=args.name,
            license=args.license,
            source_url=args.source_url,
        )
    except ConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pooling = result.pooling_type.name if result.pooling_type is not None else "unset"
    print(
        f"wrote {result.path} ({result.outtype}, n_embd={result.n_embd}, "
        f"n_vocab={result.n_vocab}, pooling={pooling})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
