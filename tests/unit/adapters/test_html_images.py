"""Photos of a seller's detail HTML (TMON detailContents) become detail images of the submission."""

from __future__ import annotations

from adapters.common.images import html_image_uris


def test_img_sources_in_page_order_without_repeats_lazy_addresses_first() -> None:
    html = """<div><p>사이즈표</p><IMG SRC="https://cdn.example.com/a.jpg?w=1&amp;h=2">
        <img src='/placeholder.gif' data-src="https://cdn.example.com/b.jpg" alt=b>
        <img src=https://cdn.example.com/c.jpg><img src="https://cdn.example.com/a.jpg?w=1&h=2"></div>"""
    assert html_image_uris(html) == ["https://cdn.example.com/a.jpg?w=1&h=2",
                                     "https://cdn.example.com/b.jpg", "https://cdn.example.com/c.jpg"]


def test_what_is_not_a_web_image_address_is_passed_over() -> None:
    html = ('<img src="relative/x.jpg"><img src="data:image/png;base64,AAAA">'
            '<img src="file:///etc/passwd"><img src="javascript:alert(1)">'
            '<img src="https://user:pw@cdn.example.com/x.jpg"><img src="https://cdn.example.com/ok.jpg">'
            '<img alt="no src"><a href="https://cdn.example.com/link.jpg">link</a>')
    assert html_image_uris(html) == ["https://cdn.example.com/ok.jpg"]


def test_at_most_limit_images_and_nothing_without_img_tags() -> None:
    many = "".join(f'<img src="https://cdn.example.com/{i}.jpg">' for i in range(50))
    assert len(html_image_uris(many)) == 20
    assert html_image_uris(many, limit=3) == [f"https://cdn.example.com/{i}.jpg" for i in range(3)]
    assert html_image_uris("<p>상세페이지 참조</p>") == []
    assert html_image_uris("<img src=") == []  # broken HTML is not an error
