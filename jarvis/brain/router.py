"""Choose who answers a request: a local skill, the local model, or (later) the cloud tier.

Skills always go first because they are exact and instant. For every other
request a :class:`RoutePolicy` picks a tier; the default policy keeps
everything on the machine. A cloud tier and a complexity-based policy plug in
through the same two seams without changing the assistant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from jarvis.brain.local_llm import LocalModel
from jarvis.brain.skills import SkillAction, SkillSet

Route = Literal["skill", "local", "cloud"]


class AnswerTier(Protocol):
    """Any tier that streams an answer to a request as text deltas."""

    def stream(self, question: str) -> AsyncIterator[str]: ...


class RoutePolicy(Protocol):
    """Decides between the local model and the cloud for requests no skill took."""

    def choose(self, question: str) -> Literal["local", "cloud"]: ...


class LocalOnlyPolicy:
    """Keep every request on the machine."""

    def choose(self, question: str) -> Literal["local", "cloud"]:
        return "local"


@dataclass(frozen=True, slots=True)
class RoutedAnswer:
    """Where a request went and the stream of its answer text."""

    route: Route
    deltas: AsyncIterator[str]
    skill: str | None = None
    action: SkillAction = "none"


async def _single(text: str) -> AsyncIterator[str]:
    if text:
        yield text


class Router:
    """Route requests to skills first, then to the tier the policy picks."""

    def __init__(
        self,
        skills: SkillSet,
        local: LocalModel,
        cloud: AnswerTier | None = None,
        policy: RoutePolicy | None = None,
    ) -> None:
        self._skills = skills
        self._local = local
        self._cloud = cloud
        self._policy = policy or LocalOnlyPolicy()

    def route(self, question: str) -> RoutedAnswer:
        """Pick the tier for ``question`` and start its answer stream."""
        reply = self._skills.answer(question)
        if reply is not None:
            return RoutedAnswer("skill", _single(reply.text), skill=reply.skill, action=reply.action)
        if self._cloud is not None and self._policy.choose(question) == "cloud":
            return RoutedAnswer("cloud", self._cloud.stream(question))
        return RoutedAnswer("local", self._local.stream(question))
