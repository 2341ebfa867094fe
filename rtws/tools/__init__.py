"""Function tools: a plain Python function, declared once for every provider.

    @transport.tool
    def get_weather(city: str) -> dict[str, object]:
        \"\"\"Current weather in a city.

        Args:
            city: the city's name, e.g. Paris.
        \"\"\"

:class:`Tool` holds the declaration (name, description, JSON schema, timeout);
each provider translates it into its wire format. :class:`ToolRunner` answers
the model's calls: it validates the arguments, runs the function (sync ones in
a thread) and sends the result, an error the model can read, or nothing when
the call was cancelled. See docs/tools.md.
"""

from .declare import DEFAULT_TIMEOUT, InvalidArguments, Tool, tool
from .deepgram import deepgram_function
from .runner import ToolRunner
from .sample import sample_arguments

__all__ = [
    "DEFAULT_TIMEOUT",
    "InvalidArguments",
    "Tool",
    "ToolRunner",
    "deepgram_function",
    "sample_arguments",
    "tool",
]
