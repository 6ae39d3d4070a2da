"""Request dependencies of the template engine: the renderer, with the configured time limit."""

from typing import Annotated

from fastapi import Depends, Request

from outreach.templates.rendering import Renderer


# Async on purpose: a sync dependency would cost every request a hop to the thread pool.
async def get_renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


TemplateRenderer = Annotated[Renderer, Depends(get_renderer)]
