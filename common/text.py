"""Text that crosses into a document format: the rules a value must follow for where it goes
(checked at the boundary, naming the field) and the escapes every writer applies again on
output, so that no stored value, old or new, can break a document.

- XML 1.0 allows tab, LF, CR and the characters from U+0020 on, except surrogates and
  U+FFFE/U+FFFF; no text anywhere may hold NUL (PostgreSQL text cannot).
- An HLS quoted-string (RFC 8216 4.2) holds no `"`, CR or LF; labels shown to viewers
  (EXT-X-MEDIA NAME) are printable: no control character at all.
- CODECS is an RFC 6381 list; LANGUAGE an RFC 5646 (BCP 47) tag.
- A CSV cell must not start with a character a spreadsheet reads as a formula (OWASP "CSV
  injection").
"""

from __future__ import annotations

import re

_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL = re.compile("[\u0000-\u001f\u007f-\u009f]")
_CODEC = r"[A-Za-z0-9][A-Za-z0-9-]{2,3}(\.[A-Za-z0-9_-]+)*"
CODECS_PATTERN = rf"^{_CODEC}(,\s?{_CODEC})*$"
"""RFC 6381 codecs: comma-separated sample entries with dotted parameters (avc1.64001f,
mp4a.40.2, hvc1.1.6.L93.B0, ec-3, wvtt)."""
LANGUAGE_PATTERN = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"
"""An RFC 5646 language tag (en, fr-CA, zh-Hant-TW)."""
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a CSV cell as a formula."""


def _codepoint(character: str) -> str:
    return f"U+{ord(character):04X}"


def check_text(value: str) -> str:
    """A free text (a name, a title, a description): XML 1.0 legal, so no NUL and no other
    control character but tab and line breaks. ValueError names the first offender."""
    found = _XML_ILLEGAL.search(value)
    if found is not None:
        raise ValueError(
            f"holds {_codepoint(found.group())} at {found.start()}, which no XML document "
            "(the XMLTV guide) may carry"
        )
    return value


def check_line(value: str) -> str:
    """A one-line text (a channel name, a group): printable, so no control character, CR and
    LF included (quotes are fine: the M3U writer replaces them inside attributes)."""
    found = _CONTROL.search(value) or _XML_ILLEGAL.search(value)
    if found is not None:
        raise ValueError(f"holds the control character {_codepoint(found.group())}")
    return value


def check_label(value: str) -> str:
    """A text shown as an HLS quoted-string attribute or on one M3U line: printable, so no
    control character (CR and LF included) and no double quote."""
    check_line(value)
    if '"' in value:
        raise ValueError("may not hold a double quote (it ends an HLS or M3U attribute)")
    return value


def xml_safe(value: str) -> str:
    """The text without what XML 1.0 cannot carry (the XMLTV writer's second line of defence)."""
    return _XML_ILLEGAL.sub("", value)


def attribute_safe(value: str) -> str:
    """The text as one quoted attribute value: control characters and double quotes become
    spaces (the playlist and M3U writers' second line of defence)."""
    if value.isprintable() and '"' not in value:
        return value  # the usual case, without a regular expression
    return re.sub(r'[\u0000-\u001f\u007f-\u009f"]', " ", xml_safe(value))


def line_safe(value: str) -> str:
    """The text on one line: control characters (CR and LF included) become spaces."""
    return re.sub("[\u0000-\u001f\u007f-\u009f]", " ", xml_safe(value))


def csv_safe(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula: text starting with = + - @ (or a tab
    or CR) gets a leading apostrophe; numbers are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
