"""Where a point on a page is, as a viewer shows it.

Every position the engine takes or gives (fields, anchors, page sizes) is in PDF points (1/72 inch) on the page *as
displayed*: origin at the bottom-left corner of the visible area (the crop box), x to the right, y up, after the
page's ``/Rotate``. That is what a person placing fields on a rendered page sees; the page's own user space may be
offset (a crop box not at 0,0) or turned (``/Rotate 90``), and this module maps between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import pikepdf

Matrix = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class PageGeometry:
    left: float
    bottom: float
    right: float
    top: float
    rotation: int  # clockwise, one of 0, 90, 180, 270

    @property
    def box_width(self) -> float:
        return self.right - self.left

    @property
    def box_height(self) -> float:
        return self.top - self.bottom

    @property
    def width(self) -> float:
        """Displayed width in points."""
        return self.box_height if self.rotation in (90, 270) else self.box_width

    @property
    def height(self) -> float:
        return self.box_width if self.rotation in (90, 270) else self.box_height

    def displayed_to_user(self) -> Matrix:
        """The ``cm`` matrix that draws displayed coordinates into the page's user space."""
        w, h, x0, y0 = self.box_width, self.box_height, self.left, self.bottom
        return {
            0: (1, 0, 0, 1, x0, y0),
            90: (0, 1, -1, 0, x0 + w, y0),
            180: (-1, 0, 0, -1, x0 + w, y0 + h),
            270: (0, -1, 1, 0, x0, y0 + h),
        }[self.rotation]

    def user_to_displayed(self, u: float, v: float) -> tuple[float, float]:
        x, y = u - self.left, v - self.bottom
        w, h = self.box_width, self.box_height
        return {0: (x, y), 90: (y, w - x), 180: (w - x, h - y), 270: (h - y, x)}[self.rotation]


def page_geometry(page: pikepdf.Page) -> PageGeometry:
    """The page's visible box and turn, with inherited values (a ``/Rotate`` on the page tree) resolved."""
    box = _inherited(page.obj, "/CropBox") or _inherited(page.obj, "/MediaBox")
    if box is None or len(box) != 4:
        raise ValueError("page without a usable media box")
    x1, y1, x2, y2 = (float(value) for value in box)
    try:
        rotation = int(_inherited(page.obj, "/Rotate") or 0) % 360
    except (TypeError, ValueError):
        rotation = 0
    if rotation not in (0, 90, 180, 270):
        rotation = 0  # not a multiple of 90: viewers ignore it, so do we
    return PageGeometry(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2), rotation)


def _inherited(node: pikepdf.Object, key: str, depth: int = 0):  # noqa: ANN202
    """A page attribute, from the page or the nearest ancestor in the page tree that has it."""
    while node is not None and depth < 64:  # a looping /Parent chain ends here, not in a recursion error
        if key in node:
            return node[key]
        node = node.get("/Parent")
        depth += 1
    return None
