"""The component registry: what plugins register, and how components are built."""

from __future__ import annotations

import builtins
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from codex_core._imports import import_object, is_lazy_ref
from codex_core.errors import ComponentError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import BaseModel

    from codex_core.context import BuildContext

ComponentKind = Literal["tokenizer", "model", "dataset", "connector", "metric", "logger", "task"]
KINDS: tuple[ComponentKind, ...] = (
    "tokenizer",
    "model",
    "dataset",
    "connector",
    "metric",
    "logger",
    "task",
)

# Which distribution ships the built-in components of each kind (for hints).
PROVIDERS: dict[str, str] = {
    "tokenizer": "codex-tokenizers",
    "model": "codex-models",
    "dataset": "codex-data",
    "connector": "codex-data",
    "metric": "codex-models",
    "logger": "codex-telemetry",
    "task": "codex-models",
}


class RegisterFn(Protocol):
    """The ``register`` callable handed to every registration hook."""

    def __call__(
        self,
        name: str,
        factory: Callable[..., Any] | str,
        *,
        description: str = "",
        config: type[BaseModel] | str | None = None,
        aliases: Iterable[str] = (),
    ) -> None: ...


@dataclass(frozen=True)
class ComponentSpec:
    """One registered component: a name, a factory and (optionally) a params model."""

    kind: str
    name: str
    factory: Callable[..., Any] | str
    description: str = ""
    config: Any = None  # a pydantic model class, a "module:Model" string, or None
    aliases: tuple[str, ...] = ()
    plugin: str = ""
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def _load(self, what: str, ref: Any) -> Any:
        if not isinstance(ref, str):
            return ref
        if what not in self._cache:
            try:
                self._cache[what] = import_object(ref)
            except (ImportError, AttributeError) as exc:
                raise ComponentError(
                    f"cannot import the {what} {ref!r} of {self.kind} {self.name!r} "
                    f"(plugin {self.plugin!r}): {type(exc).__name__}: {exc}",
                    hint="reinstall the plugin or check its optional dependencies",
                ) from exc
        return self._cache[what]

    def load_factory(self) -> Callable[..., Any]:
        """The factory callable, importing it if it was registered lazily."""
        factory: Callable[..., Any] = self._load("factory", self.factory)
        if not callable(factory):
            raise ComponentError(
                f"the factory of {self.kind} {self.name!r} (plugin {self.plugin!r}) "
                f"is not callable: {factory!r}"
            )
        return factory

    def load_config(self) -> type[BaseModel] | None:
        """The params model class, importing it if it was registered lazily."""
        if self.config is None:
            return None
        return self._load("config", self.config)  # type: ignore[no-any-return]

    def validate_params(self, params: Mapping[str, Any] | None) -> BaseModel | None:
        """Validate ``params`` against the params model; unknown keys are errors."""
        params = dict(params or {})
        model = self.load_config()
        label = f"{self.kind} {self.name!r}"
        if model is None:
            if params:
                raise ComponentError(
                    f"{label} takes no params, got {sorted(params)}",
                    hint="remove its 'params' section",
                )
            return None
        from codex_core.config.errors import check_unknown_keys, format_validation_error

        check_unknown_keys(model, params, where=f"params of {label}", error=ComponentError)
        from pydantic import ValidationError

        try:
            return model.model_validate(params)
        except ValidationError as exc:
            raise ComponentError(format_validation_error(exc, where=f"params of {label}")) from None


class Registry:
    """Components by kind and name. Built from the plugins' registration hooks."""

    def __init__(self) -> None:
        self._specs: dict[str, dict[str, ComponentSpec]] = {kind: {} for kind in KINDS}
        self._aliases: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}

    # -- registration -------------------------------------------------------------
    def register_fn(self, kind: str, plugin: str) -> RegisterFn:
        """A ``register`` callable that files components of ``kind`` under ``plugin``."""

        def register(
            name: str,
            factory: Callable[..., Any] | str,
            *,
            description: str = "",
            config: Any = None,
            aliases: Iterable[str] = (),
        ) -> None:
            self.add(
                ComponentSpec(
                    kind=kind,
                    name=name,
                    factory=factory,
                    description=description,
                    config=config,
                    aliases=tuple(aliases),
                    plugin=plugin,
                )
            )

        return register

    def add(self, spec: ComponentSpec) -> None:
        """Add a component; a name or alias already taken is an error naming both plugins."""
        if spec.kind not in self._specs:
            raise ComponentError(f"unknown component kind {spec.kind!r}; kinds: {', '.join(KINDS)}")
        if not isinstance(spec.name, str) or not spec.name:
            raise ComponentError(f"plugin {spec.plugin!r} registered a {spec.kind} with no name")
        if not (callable(spec.factory) or is_lazy_ref(spec.factory)):
            raise ComponentError(
                f"{spec.kind} {spec.name!r} (plugin {spec.plugin!r}): factory must be a callable "
                f"or a 'module:attr' string, got {spec.factory!r}"
            )
        if spec.config is not None and isinstance(spec.config, str) and not is_lazy_ref(spec.config):
            raise ComponentError(
                f"{spec.kind} {spec.name!r} (plugin {spec.plugin!r}): config must be a pydantic "
                f"model class or a 'module:Model' string, got {spec.config!r}"
            )
        for label in (spec.name, *spec.aliases):
            owner = self._owner(spec.kind, label)
            if owner is not None:
                raise ComponentError(
                    f"{spec.kind} name {label!r} is registered by two plugins: "
                    f"{owner.plugin!r} and {spec.plugin!r}",
                    hint=f"uninstall one, or disable it with CODEX_DISABLE_PLUGINS={spec.plugin}",
                )
        self._specs[spec.kind][spec.name] = spec
        for alias in spec.aliases:
            self._aliases[spec.kind][alias] = spec.name

    def _owner(self, kind: str, label: str) -> ComponentSpec | None:
        name = self._aliases[kind].get(label, label)
        return self._specs[kind].get(name)

    def remove_plugin(self, plugin: str) -> None:
        """Forget every component that ``plugin`` registered (used when it fails)."""
        for kind in KINDS:
            for name in [n for n, s in self._specs[kind].items() if s.plugin == plugin]:
                spec = self._specs[kind].pop(name)
                for alias in spec.aliases:
                    self._aliases[kind].pop(alias, None)

    # -- lookup -------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        """Sorted component names of ``kind`` (aliases not included)."""
        return sorted(self._specs[self._check_kind(kind)])

    def list(self, kind: str | None = None) -> builtins.list[ComponentSpec]:
        """Registered components, of one kind or of all kinds, sorted by kind then name."""
        kinds = [self._check_kind(kind)] if kind else list(KINDS)
        return [self._specs[k][n] for k in kinds for n in sorted(self._specs[k])]

    def by_plugin(self, plugin: str) -> dict[str, builtins.list[str]]:
        """``{kind: [names]}`` for the components one plugin registered."""
        out: dict[str, builtins.list[str]] = {}
        for spec in self.list():
            if spec.plugin == plugin:
                out.setdefault(spec.kind, []).append(spec.name)
        return out

    def __contains__(self, item: tuple[str, str]) -> bool:
        kind, name = item
        return self._owner(self._check_kind(kind), name) is not None

    def get(self, kind: str, name: str) -> ComponentSpec:
        """The spec for a name or alias; an unknown name is an error with a hint."""
        kind = self._check_kind(kind)
        spec = self._owner(kind, name)
        if spec is not None:
            return spec
        known = sorted([*self._specs[kind], *self._aliases[kind]])
        guess = did_you_mean(name, known)
        message = f"unknown {kind} {name!r}"
        if guess:
            message += f"; did you mean {guess!r}?"
        if known:
            hint = f"installed: {', '.join(self.names(kind))}"
        else:
            hint = (
                f"no {kind} is installed; install {PROVIDERS[kind]} or a plugin that "
                f"provides {kind}s (codex plugins list)"
            )
        raise ComponentError(message, hint=hint)

    def build(
        self,
        kind: str,
        ref: Any,
        params: Mapping[str, Any] | None = None,
        *,
        context: BuildContext | None = None,
    ) -> Any:
        """Build a component from a name (or a config reference with ``name``/``params``).

        Params are validated against the component's params model; the factory is called
        with the validated params (when it declares a params model) and, if it accepts
        one, a ``context`` keyword with the ``BuildContext``.
        """
        name = ref if isinstance(ref, str) else ref.name
        if params is None and not isinstance(ref, str):
            params = getattr(ref, "params", None)
        spec = self.get(kind, name)
        validated = spec.validate_params(params)
        factory = spec.load_factory()
        args: builtins.list[Any] = [] if spec.config is None else [validated]
        kwargs: dict[str, Any] = {}
        if _accepts(factory, "context"):
            if context is None:
                from codex_core.context import BuildContext

                context = BuildContext(registry=self)
            kwargs["context"] = context
        where = f"the factory of {kind} {name!r} (plugin {spec.plugin!r})"
        try:
            inspect.signature(factory).bind(*args, **kwargs)
        except TypeError as exc:  # a plugin's factory that cannot take what codex passes
            raise ComponentError(f"{where} cannot be called with {'its params' if args else 'no params'}: {exc}",
                                 hint="fix or update the plugin") from None
        except ValueError:  # no signature to check (a builtin): call it and see
            pass
        built = factory(*args, **kwargs)
        if built is None:
            raise ComponentError(f"{where} returned None instead of a {kind}", hint="fix or update the plugin")
        return built

    @staticmethod
    def _check_kind(kind: str) -> str:
        if kind not in KINDS:
            guess = did_you_mean(kind, KINDS)
            raise ComponentError(
                f"unknown component kind {kind!r}" + (f"; did you mean {guess!r}?" if guess else ""),
                hint=f"kinds: {', '.join(KINDS)}",
            )
        return kind


def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
