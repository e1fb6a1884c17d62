"""An XML document written a piece at a time (RSS, KML): the standard library's ``XMLGenerator`` does the
escaping and the encoding into a buffer that ``take`` empties, so a feed of any size is sent in chunks."""

from __future__ import annotations

import io
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

NONE: AttributesImpl[str] = AttributesImpl({})


class XmlStream:
    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._out = XMLGenerator(self._buffer, encoding="utf-8", short_empty_elements=True)
        self._out.startDocument()

    def take(self) -> bytes:
        """What was written since the last call."""
        data = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return data

    def start(self, tag: str, attributes: dict[str, str] | None = None) -> None:
        self._out.startElement(tag, AttributesImpl(attributes) if attributes else NONE)

    def end(self, tag: str) -> None:
        self._out.endElement(tag)

    def text(self, tag: str, text: str, attributes: dict[str, str] | None = None) -> None:
        """``<tag>text</tag>``, escaped."""
        self.start(tag, attributes)
        self._out.characters(text)
        self.end(tag)

    def finish(self) -> bytes:
        self._out.endDocument()
        return self.take() + b"\n"
