"""Components: plain ``nn.Module`` s with typed arguments, and their registry.

The registry (:mod:`recutils.nn.components.registry`) needs no torch; the modules do.
"""

from recutils.nn.components.registry import (
    ComponentSpec,
    check_layer_params,
    component_class,
    get_component_spec,
    list_components,
    register_component,
)

__all__ = [
    "ComponentSpec",
    "check_layer_params",
    "component_class",
    "get_component_spec",
    "list_components",
    "register_component",
]
