from django import template

register = template.Library()


@register.inclusion_tag("pixelart/_section.html")
def pixel_art_section(item):
    """The pixel-art section of a video's detail page."""
    from pixelart.views import section_context

    return section_context(item)
