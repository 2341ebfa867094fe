"""Function tools: what a plain function declares, and what the model's arguments become.

Providers' own tests check the translated declarations against their SDKs and
run calls end to end against the fakes; here is the provider-neutral part.
"""

from __future__ import annotations

import datetime
import random
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from rtws import ConfigurationError, TransportOptions
from rtws.tools import InvalidArguments, Tool, deepgram_function, sample_arguments, tool

from .tool_signatures import TOOLS, Address, Order, Priority, Unit, book_table, get_weather


class Node(BaseModel):
    children: list[Node]


def test_name_description_and_parameter_docs_from_the_function() -> None:
    weather = Tool(get_weather)
    assert weather.name == "get_weather"
    assert weather.description == "Current weather in a city."
    assert weather.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "the city's name, e.g. Paris."},
            "unit": {
                "type": "string",
                "enum": ["celsius", "fahrenheit"],
                "default": "celsius",
                "description": "the temperature unit.",
            },
        },
        "required": ["city"],
    }


def test_numpy_and_rest_docstrings_and_annotated_descriptions() -> None:
    table = Tool(book_table).parameters["properties"]
    assert table["restaurant"]["description"] == "The restaurant's name."
    assert table["people"] == {
        "type": "integer", "minimum": 1, "maximum": 12, "description": "how many guests",
    }  # fmt: skip
    assert table["when"] == {"type": "string", "format": "date"}
    assert table["seating"]["enum"] == ["inside", "terrace"]
    assert table["notes"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    order = next(t for t in TOOLS if t.name == "place_order").parameters["properties"]
    assert order["order"]["description"] == "what to send where."
    assert order["priority"]["enum"] == [1, 2]


def test_nested_models_are_inlined_without_titles() -> None:
    order = next(t for t in TOOLS if t.name == "place_order")
    text = repr(order.parameters)
    assert "$ref" not in text and "$defs" not in text and "'title'" not in text
    ship_to = order.parameters["properties"]["order"]["properties"]["ship_to"]
    assert ship_to["required"] == ["street", "city"]
    assert ship_to["properties"]["city"] == {"type": "string", "description": "the city"}


@pytest.mark.parametrize("declared", TOOLS, ids=lambda t: t.name)
def test_every_schema_is_valid_json_schema_and_samples_validate(declared: Tool) -> None:
    jsonschema.Draft202012Validator.check_schema(declared.parameters)
    rng = random.Random(7)
    for _ in range(25):
        arguments = sample_arguments(declared.parameters, rng)
        jsonschema.validate(arguments, declared.parameters)
        declared.validate(arguments)  # pydantic agrees with the schema it produced


def test_arguments_keep_their_python_types() -> None:
    place = next(t for t in TOOLS if t.name == "place_order")
    kwargs = place.validate(
        {
            "order": {"items": ["tea"], "ship_to": {"street": "1 Rue", "city": "Paris"}},
            "priority": 2,
        }
    )
    assert isinstance(kwargs["order"], Order) and isinstance(kwargs["order"].ship_to, Address)
    assert kwargs["priority"] is Priority.HIGH and kwargs["tags"] is None
    assert Tool(get_weather).validate({"city": "Oslo"})["unit"] is Unit.CELSIUS
    assert Tool(book_table).validate({"restaurant": "Chez", "people": 2, "when": "2026-12-24"})[
        "when"
    ] == datetime.date(2026, 12, 24)


def test_invalid_arguments_say_what_is_wrong() -> None:
    table = Tool(book_table)
    with pytest.raises(InvalidArguments) as err:
        table.validate({"restaurant": "Chez", "people": 40, "when": "soon", "extra": 1})
    text = str(err.value)
    assert "book_table" in text and "people" in text and "when" in text and "extra" in text
    with pytest.raises(InvalidArguments, match="restaurant: Field required"):
        table.validate({"people": 2, "when": "2026-12-24"})


def test_functions_that_cannot_be_declared_are_refused() -> None:
    def untyped(city):  # type: ignore[no-untyped-def]
        return city  # pyright: ignore[reportUnknownVariableType]

    def variadic(*cities: str) -> None: ...

    def recursive(tree: Node) -> None: ...

    with pytest.raises(ConfigurationError, match="'city' has no type annotation"):
        Tool(untyped)  # pyright: ignore[reportUnknownArgumentType]
    with pytest.raises(ConfigurationError, match=r"\*cities"):
        Tool(variadic)
    with pytest.raises(ConfigurationError, match="refers to itself"):
        Tool(recursive)
    with pytest.raises(ConfigurationError, match="not valid for every provider"):
        Tool(get_weather, name="get weather")
    with pytest.raises(ConfigurationError, match="timeout"):
        Tool(get_weather, timeout=0)


def test_decorator_forms_keep_the_function_callable() -> None:
    @tool
    def double(x: int) -> int:
        """Twice x."""
        return 2 * x

    @tool(name="triple_it", timeout=2.5, cancel_on_interruption=False)
    def triple(x: int) -> int:
        return 3 * x

    assert double(4) == 8 and triple(4) == 12
    assert (triple.name, triple.timeout, triple.cancel_on_interruption) == ("triple_it", 2.5, False)
    assert double.description == "Twice x." and triple.description == ""


def test_options_accept_plain_functions_and_dump_declarations() -> None:
    options = TransportOptions(tools=[get_weather, Tool(book_table, timeout=5)])  # pyright: ignore[reportArgumentType]
    assert [t.name for t in options.tools] == ["get_weather", "book_table"]
    assert options.tools[1].timeout == 5
    dumped: dict[str, Any] = options.model_dump()
    assert dumped["tools"][0] == Tool(get_weather).declaration()
    with pytest.raises(ValueError, match=r"expected a function or rtws\.tools\.Tool"):
        TransportOptions(tools=[{"name": "x"}])  # pyright: ignore[reportArgumentType]


def test_deepgram_function_entry() -> None:
    entry = deepgram_function(Tool(get_weather))
    assert entry == {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": Tool(get_weather).parameters,
    }
    assert "endpoint" not in entry  # client-side: Deepgram sends FunctionCallRequest to us


def test_parameters_named_like_pydantic_attributes() -> None:
    def render(json: str, copy: bool = False, model_config: int = 1, _raw: int = 0) -> str:
        """Render.

        Args:
            json: the text.
        """
        return json

    declared = Tool(render)
    assert list(declared.parameters["properties"]) == ["json", "copy", "model_config", "_raw"]
    assert declared.parameters["properties"]["json"]["description"] == "the text."
    kwargs = declared.validate({"json": "x", "copy": True, "_raw": 3})
    assert kwargs == {"json": "x", "copy": True, "model_config": 1, "_raw": 3}
    assert declared(**kwargs) == "x"
    with pytest.raises(InvalidArguments, match="p0: Extra inputs are not permitted"):
        declared.validate({"json": "x", "p0": "internal names are not arguments"})
