"""Reading recipes: YAML files, ``base:`` inheritance, ``key=value`` overrides, one-line errors.

* ``base: other.yaml`` (relative to the recipe's folder) is loaded first and the recipe's
  own keys are merged over it (mappings merge key by key; lists and scalars replace).
* Overrides are ``dotted.path=value`` strings (``optim.lr=1e-4``,
  ``data.sources.0.size=200``); the value is read as YAML (``true``, ``[0.9, 0.99]``, ``null``).
* Any problem is a :class:`RecipeError` of one line naming the file (or override), the
  key and what is valid: ``unknown key 'lrr' in recipes/x.yaml at optim; did you mean 'lr'?``
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from xalign.errors import XalignError, closest
from xalign.train.recipe import Recipe


class RecipeError(XalignError):
    """A recipe (file, inheritance chain or override) is invalid."""


# -- reading -------------------------------------------------------------------------------
def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in a YAML file; any problem is a :class:`RecipeError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(f"recipe file not found: {path}") from None
    except OSError as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecipeError(f"{path}:{where} is not valid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe must be a mapping of keys, got {type(data).__name__}")
    return data


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged onto ``base``: mappings recursively, everything else replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_bases(path: Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The recipe at ``path`` with its ``base:`` chain merged in (``base`` removed)."""
    path = path.resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise RecipeError(f"recipe inheritance cycle: {cycle}")
    data = read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise RecipeError(f"{path}: 'base' must be a file name such as tiny-base.yaml")
    base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
    if not base_path.is_file():
        raise RecipeError(f"{path}: base recipe {base!r} not found (looked for {base_path})")
    return merge(resolve_bases(base_path, (*_chain, path)), data)


# -- overrides -----------------------------------------------------------------------------
def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optim.lr=1e-4"`` -> ``(["optim", "lr"], 1e-4)``; the value is parsed as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"override {text!r} must look like key=value (e.g. optim.lr=1e-4)")
    parts = [p for p in key.strip().split(".")]
    if any(not p for p in parts):
        raise RecipeError(f"override {text!r}: empty part in the key {key!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_override(data: dict[str, Any], parts: list[str], value: Any, text: str) -> None:
    """Set ``data[parts[0]][parts[1]]… = value``, creating mappings and indexing lists."""
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                raise RecipeError(f"override {text!r}: {'.'.join(parts[:i]) or 'root'} is a "
                                  f"list of {len(node)}; {part!r} is not an index in it")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise RecipeError(f"override {text!r}: {'.'.join(parts[:i])} is not a mapping")
        if last:
            node[part] = value
        else:
            if not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]


# -- validation and errors -----------------------------------------------------------------
def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through Optional/list/Union/Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return []
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The recipe section that ``loc`` (a pydantic error location, minus its last key) names."""
    candidates: list[type[BaseModel]] = [Recipe]
    for part in loc:
        if isinstance(part, int):
            continue
        tagged = [m for m in candidates if _kind_of(m) == part]
        if tagged:  # a discriminated-union tag such as 'manifest'
            candidates = tagged
            continue
        nxt: list[type[BaseModel]] = []
        for model in candidates:
            field = model.model_fields.get(str(part))
            if field is not None:
                nxt += _models_in(field.annotation)
        candidates = nxt
        if not candidates:
            return None
    return candidates[0] if len(candidates) == 1 else None


def _kind_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    args = typing.get_args(field.annotation) if field is not None else ()
    return args[0] if len(args) == 1 and isinstance(args[0], str) else None


# Names users carry over from other trainers, mapped to ours.
SYNONYMS = {
    "learning_rate": "lr", "wd": "weight_decay", "warmup": "warmup_steps",
    "gradient_accumulation_steps": "grad_accum", "grad_accumulation": "grad_accum",
    "max_grad_norm": "clip_grad_norm", "clip_grad": "clip_grad_norm", "steps": "max_steps",
    "num_steps": "max_steps", "max_iters": "max_steps", "num_epochs": "epochs",
    "batch": "batch_size", "num_query_tokens": "num_tokens", "num_query_token": "num_tokens",
    "use_cues": "use_cue", "amp": "mixed_precision", "save_every": "every",
}


def _suggest(key: str, model: type[BaseModel]) -> str | None:
    """The field of ``model`` closest to ``key`` (through :data:`SYNONYMS` too)."""
    valid = list(model.model_fields)
    aliases = [alias for alias, target in SYNONYMS.items() if target in valid]
    match = closest(key, valid + aliases)
    return SYNONYMS.get(match, match) if match else None


_PREFERRED = ("optim", "schedule", "data", "projector", "llm", "encoder", "cache", "eval")


def _sections(model: type[BaseModel] = Recipe, prefix: str = "") -> list[tuple[str, type]]:
    """Every recipe section with its dotted prefix; the usual homes of a key come first."""
    out: list[tuple[str, type[BaseModel]]] = [(prefix, model)]
    names = sorted(model.model_fields,
                   key=lambda n: _PREFERRED.index(n) if n in _PREFERRED else len(_PREFERRED))
    for name in names:
        for sub in _models_in(model.model_fields[name].annotation):
            out += _sections(sub, f"{prefix}{name}.")
    return out


def _suggest_exact(key: str, here: type[BaseModel]) -> str | None:
    """A key that is valid, as spelt (or a known synonym), in another section."""
    target = SYNONYMS.get(key, key)
    if target in here.model_fields:
        return target if target != key else None
    for prefix, model in _sections():
        if model is not here and target in model.model_fields:
            return prefix + target
    return None


def _suggest_elsewhere(key: str) -> str | None:
    """The closest field name in any section, with its dotted path."""
    for prefix, model in _sections():
        match = _suggest(key, model)
        if match:
            return prefix + match
    return None


def _dotted(loc: Iterable[Any]) -> str:
    out = ""
    parts = list(loc)
    for i, part in enumerate(parts):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i > 0 and isinstance(parts[i - 1], int) and part in ("synthetic", "manifest", "hf"):
            continue  # the union tag pydantic inserts after a list index
        else:
            out += ("." if out else "") + str(part)
    return out


def _override_for(loc: tuple[Any, ...], overrides: list[str]) -> str | None:
    wanted = [str(p) for p in loc if str(p) not in ("synthetic", "manifest", "hf")]
    for text in overrides:
        if text.partition("=")[0].strip().split(".") == wanted:
            return text
    return None


def describe_error(exc: ValidationError, origin: str, overrides: list[str]) -> str:
    """One line for the first validation error (plus how many more there are)."""
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    loc = tuple(first["loc"])
    override = _override_for(loc, overrides)
    where = f"override {override!r}" if override else origin
    if first["type"] == "extra_forbidden":
        key, parent = str(loc[-1]), loc[:-1]
        model = _model_at(parent)
        valid = sorted(model.model_fields) if model is not None else []
        message = f"unknown key {key!r} in {where}"
        if parent:
            message += f" at {_dotted(parent)}"
        suggestion = None
        if model is not None:
            suggestion = (_suggest_exact(key, model) or _suggest(key, model)
                          or _suggest_elsewhere(key))
        if suggestion:
            message += f"; did you mean {suggestion!r}?"
        elif valid:
            message += f"; valid keys: {', '.join(valid)}"
    else:
        message = f"{where}: {_dotted(loc) or 'recipe'}: {first['msg']}"
        if first["type"] not in ("missing",) and "input" in first:
            shown = repr(first["input"])
            message += f" (got {shown[:60] + '…' if len(shown) > 60 else shown})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return message


def recipe_from_dict(data: Mapping[str, Any], origin: str = "recipe",
                     overrides: Iterable[str] = ()) -> Recipe:
    """Validate a recipe mapping after applying ``overrides``; errors are one line."""
    overrides = list(overrides)
    merged = merge({}, data)
    merged.pop("base", None)
    for text in overrides:
        parts, value = parse_override(text)
        apply_override(merged, parts, value, text)
    try:
        return Recipe.model_validate(merged)
    except ValidationError as exc:
        raise RecipeError(describe_error(exc, origin, overrides)) from None


def load_recipe(path: str | Path, overrides: Iterable[str] = ()) -> Recipe:
    """Read, resolve ``base:``, override and validate the recipe at ``path``.

    The recipe's ``name`` defaults to the file's stem.
    """
    path = Path(path)
    data = resolve_bases(path)
    data.setdefault("name", path.stem)
    return recipe_from_dict(data, origin=str(path), overrides=overrides)


def dump_recipe(recipe: Recipe) -> str:
    """The resolved recipe as YAML (written into every run dir as ``recipe.yaml``)."""
    data = recipe.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
