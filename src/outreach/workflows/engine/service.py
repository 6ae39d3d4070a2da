"""The workflow engine: claims due walks in batches (`FOR UPDATE SKIP LOCKED`, so any number of
processes may run it), walks each through its version's graph in memory, and writes the batch
back with a handful of set-based statements: the states in one, the messages in one enqueue
per campaign, the tasks in one, the event log in one.

Interrupts come first: a reply (with `stop_on_reply`), an unsubscribe, a complaint or a hard
bounce ends the walk, and its pending messages and open tasks are cancelled; an out-of-office
auto-reply pauses it until the return date it states (else `auto_reply_pause_days`).
"""

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.events.service import WorkflowEvent, record_workflow_events
from outreach.jobs.runs import for_each_org
from outreach.kit.targets import TargetGuard
from outreach.kit.tenancy import org_session
from outreach.kit.webhooks import WebhookResult, webhook_client
from outreach.models import Campaign, CampaignWorkflow, MessageTemplate, Sender
from outreach.sending.outbox import service as outbox
from outreach.sending.senders.service import default_sender
from outreach.sending.transports.messages import RenderFailed, personalization_of, render_content
from outreach.tasks import service as tasks_service
from outreach.tasks.linkedin import LinkedInSlots
from outreach.templates.compose import Composer, MessageText
from outreach.templates.rendering import Renderer
from outreach.templates.sandbox import TemplateLimitExceeded
from outreach.workflows.actions import service as actions
from outreach.workflows.actions.webhooks import call_webhook, retry_delay
from outreach.workflows.engine import reads
from outreach.workflows.engine.clock import Clock
from outreach.workflows.engine.conditions import Facts, evaluate
from outreach.workflows.engine.facts import facts_for
from outreach.workflows.engine.timing import Window, return_moment, wait_end, zone_of
from outreach.workflows.engine.walk import Walk
from outreach.workflows.enrollments import repository as states
from outreach.workflows.graph.model import Graph, Node
from outreach.workflows.graph.schemas import (
    MESSAGE_TYPES,
    ConditionConfig,
    DurationWait,
    EventWait,
    FieldUpdateAction,
    ScoreAction,
    SplitConfig,
    TagAction,
    WebhookAction,
)
from outreach.workflows.splits.assignment import assign_variant
from outreach.workflows.splits.service import winners
from outreach.workflows.versions.service import ensure_published, graph_of

log = logging.getLogger(__name__)

BATCH_SIZE = 500
MAX_ORGS_PER_PASS = 100
# A walk runs at most this many nodes per claim (a valid graph has a wait on every cycle; a
# long chain of instant nodes goes on at the next claim).
MAX_NODES_PER_CLAIM = 25
# A walk waiting on its message or task is woken by a trigger when it reaches a final status;
# it is looked at this often anyway, so that nothing waits forever on a lost wake-up.
RECHECK = timedelta(hours=1)
LINKEDIN_RETRY = timedelta(hours=1)  # a LinkedIn step with no slot in the owner's limits
WEBHOOKS_AT_ONCE = 20
# The channel of each message step (`message`: the one the planner assigned to the contact).
OUTBOX_CHANNELS = {"email": "email", "sms": "sms"}
TASK_CHANNELS = {"linkedin": "linkedin", "call": "voice", "letter": "mail"}
TASK_KINDS = {"voice": "call", "mail": "letter"}
# The address each channel needs (a letter's address is the owner's business).
ADDRESS_OF = {"email": "email", "sms": "phone", "voice": "phone", "linkedin": "linkedin_url"}
ENDING_INTERRUPTS = {"unsubscribed", "complained", "bounced"}
FINAL_MESSAGE = {"sent", "failed", "cancelled", "rejected"}
FINAL_TASK = {"done", "skipped", "cancelled"}


@dataclass(frozen=True)
class EngineContext:
    settings: Settings
    clock: Clock
    guard: TargetGuard

    @classmethod
    def for_settings(cls, settings: Settings, clock: Clock) -> "EngineContext":
        return cls(settings, clock, TargetGuard.for_settings(settings))

    @property
    def renderer(self) -> Renderer:
        return Renderer(self.settings.template_render_seconds)


@dataclass
class Executed:
    """What a batch did: node executions, messages queued, tasks created."""

    nodes: int = 0
    queued: int = 0
    tasks: int = 0

    def add(self, other: "Executed") -> None:
        self.nodes += other.nodes
        self.queued += other.queued
        self.tasks += other.tasks


def template_for(campaign: Campaign, ab_variant: str | None) -> uuid.UUID | None:
    """The campaign's own template for a contact (its A/B variant's in an A/B campaign): what
    the default graph's `message` step sends."""
    if campaign.is_ab_test:
        return (
            campaign.variant_a_template_id if ab_variant == "A" else campaign.variant_b_template_id
        )
    return campaign.template_id


def _window(campaign: Campaign) -> Window:
    return Window(
        zone_of(campaign.timezone), campaign.send_days, campaign.send_start, campaign.send_end
    )


@dataclass
class _Outbound:
    """One campaign's messages of the batch, as the outbox's enqueue takes them."""

    ids: list[uuid.UUID] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    senders: list[uuid.UUID | None] = field(default_factory=list)
    templates: list[uuid.UUID | None] = field(default_factory=list)
    enrollments: list[uuid.UUID] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)


class _Batch:
    """One claimed batch of walks, executed in memory; `flush` writes it back."""

    def __init__(
        self,
        session: AsyncSession,
        ctx: EngineContext,
        org_id: uuid.UUID,
        rows: Sequence[RowMapping],
        now: datetime,
        *,
        starting: bool = False,
    ) -> None:
        self.session, self.ctx, self.org_id, self.now = session, ctx, org_id, now
        self.starting = starting  # the walks' states are not written yet
        self.walks = [Walk.of(row) for row in rows]
        self.campaigns: dict[uuid.UUID, Campaign] = {}
        self.graphs: dict[tuple[uuid.UUID, int], Graph] = {}
        self.events: list[WorkflowEvent] = []
        self.outbound: dict[uuid.UUID, _Outbound] = defaultdict(_Outbound)
        self.tasks: list[dict[str, Any]] = []
        self.outcomes: dict[tuple[uuid.UUID, str], tuple[str, str | None]] = {}
        self.facts: dict[uuid.UUID, Facts] = {}
        self.winners: dict[uuid.UUID, dict[str, str]] = {}  # by campaign, then split node
        self.templates: dict[uuid.UUID, MessageTemplate] = {}
        self.senders: dict[uuid.UUID, Sender] = {}
        self.slots: dict[uuid.UUID, LinkedInSlots] = {}
        self.secrets: dict[uuid.UUID, str] = {}
        self.action_results: dict[uuid.UUID, actions.ActionOutcome | WebhookResult] = {}
        self.executed = Executed()

    # -- the batch ---------------------------------------------------------------------------

    async def run(self) -> Executed:
        await self._load_campaigns()
        await self._interrupts()
        await self._load_outcomes()
        for _ in range(MAX_NODES_PER_CLAIM):
            active = [w for w in self.walks if not w.done]
            if not active:
                break
            await self._prepare(active)
            for walk in active:
                self.executed.nodes += 1
                await self._execute(walk)
        for walk in self.walks:
            if not walk.done:  # goes on at the next claim
                walk.status, walk.next_execution_at = "running", self.now
        await self._flush()
        return self.executed

    def graph(self, walk: Walk) -> Graph:
        return self.graphs[(walk.campaign_id, walk.row["version"])]

    def log(self, walk: Walk, event_type: str, data: dict[str, Any] | None = None) -> None:
        self.events.append(
            WorkflowEvent(
                campaign_id=walk.campaign_id,
                campaign_contact_id=walk.campaign_contact_id,
                enrollment_id=walk.id,
                node_id=walk.node,
                event_type=event_type,
                occurred_at=self.now,
                data=data or {},
            )
        )

    async def _load_campaigns(self) -> None:
        ids = {w.campaign_id for w in self.walks}
        found = await self.session.execute(select(Campaign).where(Campaign.id.in_(ids)))
        self.campaigns = {c.id: c for c in found.scalars()}
        for key in {(w.campaign_id, w.row["version"]) for w in self.walks}:
            self.graphs[key] = await graph_of(self.session, *key)

    # -- before any node: interrupts, campaigns that stopped, out-of-office pauses -----------

    async def _interrupts(self) -> None:
        auto_replied = [w.campaign_contact_id for w in self.walks if w.interrupt == "auto_replied"]
        returns = await reads.auto_reply_data(self.session, auto_replied)
        for walk in self.walks:
            campaign = self.campaigns[walk.campaign_id]
            graph = self.graph(walk)
            if walk.interrupt is not None:
                walk.interrupt_seen = True
                if walk.interrupt in ENDING_INTERRUPTS:
                    self.end(walk, walk.interrupt)
                    continue
                if walk.interrupt == "replied" and graph.settings.stop_on_reply:
                    self.end(walk, "replied")
                    continue
                if walk.interrupt == "auto_replied":
                    zone = zone_of(campaign.timezone)
                    until = return_moment(returns.get(walk.campaign_contact_id, {}), zone)
                    if until is None or until <= self.now:
                        until = self.now + timedelta(days=graph.settings.auto_reply_pause_days)
                    walk.variables["auto_reply_until"] = until.isoformat()
                    self.log(walk, "enrollment_paused", {"reason": "auto_replied", "until": until})
            if campaign.deleted_at is not None or campaign.status not in ("active", "paused"):
                status = "deleted" if campaign.deleted_at is not None else campaign.status
                self.end(walk, f"campaign {status}")
            elif campaign.status == "paused":  # paused meanwhile: this walk pauses too
                walk.paused_status, walk.status, walk.done = walk.status, "paused", True
                walk.next_execution_at = walk.row["wait_until"] or self.now
                self.log(walk, "enrollment_paused", {"reason": "campaign paused"})
            elif paused := walk.variables.get("auto_reply_until"):
                until = datetime.fromisoformat(paused)
                if until > self.now:
                    walk.hold(until)
                else:
                    del walk.variables["auto_reply_until"]
                    self.log(walk, "enrollment_resumed", {"reason": "auto_reply_over"})

    async def _load_outcomes(self) -> None:
        waiting = [w.id for w in self.walks if not w.done and w.wait_for_event == "message"]
        if waiting:
            self.outcomes = await outbox.step_outcomes(self.session, waiting)
            self.outcomes.update(await tasks_service.step_outcomes(self.session, waiting))

    # -- what the nodes of this round need, loaded for all of them at once ------------------

    async def _prepare(self, active: list[Walk]) -> None:
        facts_needed: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        action_groups: dict[tuple[uuid.UUID, int, str], list[Walk]] = defaultdict(list)
        for walk in active:
            node = self.graph(walk).nodes[walk.node]
            if node.type == "condition" or (
                node.type == "wait" and isinstance(node.config, EventWait) and walk.entered
            ):
                if walk.campaign_contact_id not in self.facts:
                    facts_needed[walk.campaign_id].append(walk.campaign_contact_id)
            elif node.type == "split":
                if walk.campaign_id not in self.winners:
                    self.winners[walk.campaign_id] = await winners(self.session, walk.campaign_id)
            elif node.type == "action":
                action_groups[(walk.campaign_id, walk.row["version"], node.id)].append(walk)
            elif node.type in MESSAGE_TYPES:
                await self._message_needs(walk, node)
        for campaign_id, ids in facts_needed.items():
            self.facts.update(await facts_for(self.session, campaign_id, ids, self.now))
        for (campaign_id, version, node_id), walks in action_groups.items():
            node = self.graphs[(campaign_id, version)].nodes[node_id]
            await self._run_action(node, walks)
            for walk in walks:  # what a condition reads next may have changed
                self.facts.pop(walk.campaign_contact_id, None)

    async def _message_needs(self, walk: Walk, node: Node) -> None:
        campaign = self.campaigns[walk.campaign_id]
        if campaign.id not in self.senders:
            sender = None
            if campaign.sender_id is not None:
                sender = await self.session.get(Sender, campaign.sender_id)
            self.senders[campaign.id] = sender or await default_sender(
                self.session, campaign.org_id, self.ctx.settings
            )
        channel = self._channel(walk, node)
        if channel not in TASK_KINDS and channel != "linkedin":
            return
        template_id = self._template(walk, node)
        if template_id is not None and template_id not in self.templates:
            template = await self.session.get(MessageTemplate, template_id)
            if template is not None:
                self.templates[template_id] = template
        if channel == "linkedin" and campaign.owner_id not in self.slots:
            self.slots[campaign.owner_id] = await tasks_service.linkedin_slots(
                self.session, campaign.owner_id, self.now
            )

    # -- the nodes ---------------------------------------------------------------------------

    async def _execute(self, walk: Walk) -> None:
        node = self.graph(walk).nodes[walk.node]
        resumed = walk.entered
        if not resumed:
            walk.enter()
        match node.type:
            case "trigger":
                self.log(walk, "enrollment_started", {"version": walk.row["version"]})
                self.advance(walk)
            case "exit":
                self.complete(walk)
            case "wait":
                self._wait(walk, node, resumed)
            case "condition":
                assert isinstance(node.config, ConditionConfig)
                facts = self.facts.get(walk.campaign_contact_id)
                result = facts is not None and evaluate(node.config.condition, facts)
                self.log(walk, "condition_evaluated", {"result": result})
                self.advance(walk, "conditional-true" if result else "conditional-false")
            case "split":
                self._split(walk, node)
            case "action":
                self._action_done(walk, node)
            case _:
                await self._message(walk, node, resumed)

    def advance(self, walk: Walk, edge_type: str = "default") -> None:
        target = self.graph(walk).next(walk.node, edge_type)
        if target is None:
            self.complete(walk)
        else:
            walk.move(target)

    def complete(self, walk: Walk) -> None:
        walk.finish("completed", None, self.now)
        self.log(walk, "enrollment_completed")

    def end(self, walk: Walk, reason: str) -> None:
        walk.finish("exited", reason, self.now)
        walk.ended = reason
        self.log(walk, "enrollment_exited", {"reason": reason})

    def fail(self, walk: Walk, error: str) -> None:
        walk.finish("failed", None, self.now)
        walk.last_error = error[:1000]
        walk.ended = "failed"
        self.log(walk, "enrollment_failed", {"error": walk.last_error})

    def retry(self, walk: Walk, error: str, delay: timedelta) -> None:
        """Tried again after `delay`, up to the walk's max_retries; then failed."""
        if walk.retry_count >= walk.max_retries:
            self.fail(walk, error)
            return
        walk.retry_count += 1
        walk.last_error = error[:1000]
        walk.status, walk.next_execution_at, walk.done = "running", self.now + delay, True

    def _wait(self, walk: Walk, node: Node, resumed: bool) -> None:
        config = node.config
        assert isinstance(config, DurationWait | EventWait)
        if not resumed or walk.wait_until is None:
            window = _window(self.campaigns[walk.campaign_id])
            until = wait_end(config, self.now, window)
            event = config.event if isinstance(config, EventWait) else None
            walk.wait(until, event, self.now, until)
            self.log(walk, "wait_started", {"until": until, "event": event})
            return
        happened = False
        if isinstance(config, EventWait):
            facts = self.facts.get(walk.campaign_contact_id)
            since = walk.wait_started_at or walk.row["started_at"]
            happened = facts is not None and any(
                moment >= since for moment in facts.events.get(config.event, ())
            )
        if not happened and self.now < walk.wait_until:
            walk.hold(walk.wait_until)  # woken early (another event): the wait goes on
            return
        if isinstance(config, EventWait):
            walk.variables[node.id] = {"event": happened}
        self.log(walk, "wait_completed", {"event": happened})
        self.advance(walk)

    def _split(self, walk: Walk, node: Node) -> None:
        kept = walk.variants.get(node.id)
        if kept is not None:
            variant = kept["variant"]
            self.log(walk, "variant_assigned", {"variant": variant, "kept": True})
        else:
            assert isinstance(node.config, SplitConfig)
            variant = assign_variant(
                walk.campaign_contact_id,
                node.id,
                node.config.variants,
                self.winners[walk.campaign_id].get(node.id),
            )
            walk.variants[node.id] = {"variant": variant, "at": self.now.isoformat()}
            walk.assigned_variant, walk.variant_assigned_at = variant, self.now
            self.log(walk, "variant_assigned", {"variant": variant})
        self.advance(walk, f"variant-{variant}")

    async def _run_action(self, node: Node, walks: list[Walk]) -> None:
        config = node.config
        if isinstance(config, TagAction | ScoreAction | FieldUpdateAction):
            people = {w.row["contact_id"]: w for w in walks}
            outcomes = await actions.apply_to_contacts(self.session, config, list(people))
            for contact_id, outcome in outcomes.items():
                self.action_results[people[contact_id].id] = outcome
        elif isinstance(config, WebhookAction):
            await self._webhooks(config, walks)

    async def _webhooks(self, config: WebhookAction, walks: list[Walk]) -> None:
        renderer = self.ctx.renderer
        gate = asyncio.Semaphore(WEBHOOKS_AT_ONCE)
        async with webhook_client(self.ctx.guard) as http:

            async def one(walk: Walk) -> None:
                campaign = self.campaigns[walk.campaign_id]
                secret = await self._secret(campaign.id)
                sender = self.senders.get(campaign.id)
                personalization = personalization_of(
                    walk.row,
                    sender_name=(sender.from_name or sender.from_email) if sender else "",
                    campaign_name=campaign.name,
                )
                async with gate:
                    self.action_results[walk.id] = await call_webhook(
                        config,
                        personalization,
                        webhook_id=f"{walk.id}:{walk.step}",
                        secret=secret,
                        http=http,
                        renderer=renderer,
                    )

            for walk in walks:  # the secrets are read in turn: one session, one query at a time
                await self._secret(walk.campaign_id)
            await asyncio.gather(*(one(walk) for walk in walks))

    async def _secret(self, campaign_id: uuid.UUID) -> str:
        if campaign_id not in self.secrets:
            found = await self.session.scalar(
                select(CampaignWorkflow.signing_secret).where(
                    CampaignWorkflow.campaign_id == campaign_id
                )
            )
            self.secrets[campaign_id] = found or ""
        return self.secrets[campaign_id]

    def _action_done(self, walk: Walk, node: Node) -> None:
        result = self.action_results.pop(walk.id, None)
        if result is None:
            self.fail(walk, "the action gave no outcome for this contact")
        elif isinstance(result, WebhookResult):
            self.log(walk, result.event_type, result.event_data())
            if result.ok:
                self.advance(walk)
            elif result.retryable:
                delay = retry_delay(walk.retry_count + 1, result.retry_after)
                self.retry(walk, result.error or "webhook failed", delay)
            else:
                self.fail(walk, result.error or "webhook failed")
        elif result.ok:
            self.log(walk, result.event_type, result.data)
            self.advance(walk)
        else:
            self.fail(walk, f"{result.code}: {result.message}")

    # -- message steps -------------------------------------------------------------------------

    def _channel(self, walk: Walk, node: Node) -> str | None:
        if node.type == "message":
            channel: str | None = walk.row["channel"]
            return channel
        return OUTBOX_CHANNELS.get(node.type) or TASK_CHANNELS.get(node.type)

    def _template(self, walk: Walk, node: Node) -> uuid.UUID | None:
        given = getattr(node.config, "template_id", None)
        if given is not None:
            return given  # type: ignore[no-any-return]
        return template_for(self.campaigns[walk.campaign_id], walk.row["ab_variant"])

    async def _message(self, walk: Walk, node: Node, resumed: bool) -> None:
        if resumed and walk.wait_for_event == "message":
            outcome = self.outcomes.get((walk.id, walk.step))
            if outcome is not None:
                self._message_outcome(walk, *outcome)
                return
        channel = self._channel(walk, node)
        if channel is None:
            self.log(walk, "step_skipped", {"reason": "no channel assigned to the contact"})
            self.advance(walk)
            return
        address = ADDRESS_OF.get(channel)
        if address is not None and not walk.row[address]:
            reason = f"no {address.replace('_', ' ')} to reach the contact by {channel}"
            self.log(walk, "step_skipped", {"reason": reason, "channel": channel})
            self.advance(walk)
            return
        if channel in OUTBOX_CHANNELS.values():
            self._enqueue(walk, channel, self._template(walk, node))
        else:
            await self._task(walk, node, channel)

    def _message_outcome(self, walk: Walk, status: str, detail: str | None) -> None:
        if status in ("sent", "done", "skipped"):
            self.advance(walk)
        elif status not in FINAL_MESSAGE | FINAL_TASK:
            walk.hold(self.now + RECHECK)  # not final yet: woken when it is
        elif status == "failed":
            self.end(walk, "failed")
            walk.last_error = detail
        elif status == "rejected":
            self.end(walk, "rejected")
        else:
            self.end(walk, detail or "cancelled")

    def _enqueue(self, walk: Walk, channel: str, template_id: uuid.UUID | None) -> None:
        campaign = self.campaigns[walk.campaign_id]
        out = self.outbound[campaign.id]
        out.ids.append(walk.campaign_contact_id)
        out.channels.append(channel)
        out.senders.append(self.senders[campaign.id].id if channel == "email" else None)
        out.templates.append(template_id)
        out.enrollments.append(walk.id)
        out.steps.append(walk.step)
        self.log(walk, "message_queued", {"channel": channel, "step": walk.step})
        walk.wait(None, "message", self.now, self.now + RECHECK)

    async def _task(self, walk: Walk, node: Node, channel: str) -> None:
        campaign = self.campaigns[walk.campaign_id]
        template_id = self._template(walk, node)
        template = self.templates.get(template_id) if template_id else None
        kind = TASK_KINDS.get(channel) or (
            getattr(node.config, "kind", None)
            or (template.linkedin_kind if template else None)
            or "connection_request"
        )
        due_at = self.now
        if channel == "linkedin":
            slot = self.slots[campaign.owner_id].take(kind)
            if slot is None:
                self.log(walk, "wait_started", {"reason": "no LinkedIn slot in the owner's limits"})
                walk.wait(None, None, self.now, self.now + LINKEDIN_RETRY)
                return
            due_at = slot
        sender = self.senders[campaign.id]
        personalization = personalization_of(
            walk.row, sender_name=sender.from_name or sender.from_email, campaign_name=campaign.name
        )
        content = MessageText(
            template.subject if template else None,
            template.body_text if template else None,
            template.body_html if template else None,
        )
        renderer = self.ctx.renderer
        composer = Composer(renderer.seconds)
        try:
            rendered = await renderer.run(
                partial(render_content, content, personalization, composer)
            )
        except (RenderFailed, TemplateLimitExceeded) as exc:
            self.fail(walk, str(exc))
            return
        self.tasks.append(
            {
                "org_id": campaign.org_id,
                "campaign_id": campaign.id,
                "campaign_contact_id": walk.campaign_contact_id,
                "owner_id": campaign.owner_id,
                "channel": channel,
                "kind": kind,
                "template_id": template_id,
                "subject": rendered.subject,
                "body": rendered.body_text or "",
                "due_at": due_at,
                "enrollment_id": walk.id,
                "step": walk.step,
            }
        )
        self.log(walk, "message_queued", {"channel": channel, "step": walk.step, "task": True})
        walk.wait(None, "message", self.now, self.now + RECHECK)

    # -- writing the batch back ------------------------------------------------------------------

    async def _flush(self) -> None:
        if self.starting:  # before the rows that refer to them
            await states.insert_walked(
                self.session, self.org_id, [w.inserted() for w in self.walks], self.now
            )
        for campaign_id, out in self.outbound.items():
            campaign = self.campaigns[campaign_id]
            await outbox.enqueue(
                self.session,
                {
                    "org_id": campaign.org_id,
                    "campaign_id": campaign.id,
                    "status": "awaiting_approval"
                    if campaign.permission_mode == "co_pilot"
                    else "queued",
                    "campaign_tz": campaign.timezone,
                    "days": campaign.send_days,
                    "start": campaign.send_start,
                    "end": campaign.send_end,
                    "ids": out.ids,
                    "channels": out.channels,
                    "senders": out.senders,
                    "templates": out.templates,
                    "enrollments": out.enrollments,
                    "steps": out.steps,
                },
            )
            self.executed.queued += len(out.ids)
        await tasks_service.create_steps(self.session, self.tasks)
        self.executed.tasks += len(self.tasks)
        if not self.starting:
            await states.write_states(self.session, [w.update() for w in self.walks], self.now)
        await record_workflow_events(self.session, self.org_id, self.events)
        ended: dict[str, list[uuid.UUID]] = defaultdict(list)
        for walk in self.walks:
            if walk.ended is not None:
                ended[f"sequence ended: {walk.ended}"].append(walk.id)
        for reason, ids in ended.items():
            await outbox.cancel_for_enrollments(self.session, ids, reason)
            await tasks_service.cancel_for_enrollments(self.session, ids, reason)


async def execute(
    session: AsyncSession,
    ctx: EngineContext,
    org_id: uuid.UUID,
    rows: Sequence[RowMapping],
    now: datetime,
) -> Executed:
    """Walks these claimed states (enrollments' claim rows) and writes them back, in the
    caller's transaction."""
    if not rows:
        return Executed()
    return await _Batch(session, ctx, org_id, rows, now).run()


async def start_walks(
    session: AsyncSession,
    ctx: EngineContext,
    campaign: Campaign,
    campaign_contact_ids: Sequence[uuid.UUID],
) -> Executed:
    """Enrolls these campaign contacts (of the locked `campaign`; those already enrolled are
    left out) on its latest version and walks them as far as they go now, in the caller's
    transaction (the planner's): each new state is written once, where its walk stopped."""
    if not campaign_contact_ids:
        return Executed()
    now = ctx.clock.now()
    version = await ensure_published(session, campaign)
    graph = await graph_of(session, campaign.id, version)
    rows = await states.starting_walks(
        session,
        campaign_id=campaign.id,
        version=version,
        node=graph.start,
        campaign_contact_ids=campaign_contact_ids,
        max_retries=graph.settings.max_retries,
        now=now,
    )
    if not rows:
        return Executed()
    return await _Batch(session, ctx, campaign.org_id, rows, now, starting=True).run()


async def run_org(
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: EngineContext,
    org_id: uuid.UUID,
    *,
    batch_size: int = BATCH_SIZE,
    max_seconds: float = 10.0,
) -> int:
    """Walks the organization's due states, a batch per transaction, until none is due or
    `max_seconds` have passed; answers the node executions."""
    deadline = time.monotonic() + max_seconds
    done = 0
    while True:
        now = ctx.clock.now()
        claimed: Sequence[RowMapping] = ()
        try:
            async with org_session(sessionmaker, org_id) as session, session.begin():
                claimed = await states.claim_due(session, now, batch_size)
                done += (await execute(session, ctx, org_id, claimed, now)).nodes
                await states.note_next_due(session, org_id)
        except Exception:
            if not claimed:
                raise
            log.exception("a batch of %d walks failed; walking them one by one", len(claimed))
            done += await _one_by_one(sessionmaker, ctx, org_id, [r["id"] for r in claimed])
        if len(claimed) < batch_size or time.monotonic() > deadline:
            return done


async def _one_by_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: EngineContext,
    org_id: uuid.UUID,
    ids: list[uuid.UUID],
) -> int:
    """After a failed batch: each walk in a transaction of its own, so that one bad walk fails
    alone (retried later, then `failed` with its error) and the others go on."""
    done = 0
    for state_id in ids:
        now = ctx.clock.now()
        try:
            async with org_session(sessionmaker, org_id) as session, session.begin():
                rows = await states.claim_due_these(session, [state_id], now)
                done += (await execute(session, ctx, org_id, rows, now)).nodes
        except Exception as exc:
            log.exception("walk %s failed", state_id)
            async with org_session(sessionmaker, org_id) as session, session.begin():
                await states.note_failure(session, state_id, f"{type(exc).__name__}: {exc}", now)
    return done


async def run_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    ctx: EngineContext,
    *,
    batch_size: int = BATCH_SIZE,
    stopping: asyncio.Event | None = None,
) -> int:
    """One pass over the organizations with due walks (at most MAX_ORGS_PER_PASS, the longest
    due first); answers the node executions. A set `stopping` ends the pass early."""
    now = ctx.clock.now()
    ran = await for_each_org(
        sessionmaker,
        lambda org_id: run_org(sessionmaker, ctx, org_id, batch_size=batch_size),
        "workflow engine",
        workflow_due_at=now,
        limit=MAX_ORGS_PER_PASS,
        stopping=stopping,
    )
    return sum(ran.results.values())
