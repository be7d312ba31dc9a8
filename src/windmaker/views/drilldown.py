"""The drill-down pages' contexts: a brand, its live rooms and their sessions, its influencers
and its products, each with its driver tree (:mod:`windmaker.views.funnel`), and the sentences
naming the child behind a leak: the live room, the influencer or the product whose driver fell
furthest below its own level.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd

from windmaker import numbers
from windmaker.i18n import t
from windmaker.metrics.sources import Sources
from windmaker.services.identity import Principal
from windmaker.views.funnel import (
    BELOW_THRESHOLD,
    LIVE_DRIVERS,
    LOWER_IS_BETTER,
    MIN_CHILD_SHARE,
    REFERENCE_DAYS,
    SUMS,
    WINDOWS,
    Driver,
    Entity,
    Window,
    as_of,
    drivers_of,
    frame_sums,
    live_entities,
    peer_brands,
    session_rows,
    sku_entities,
    sku_rows,
    sku_values,
    sources,
)
from windmaker.views.readmodel import ReadModel
from windmaker.warehouse import Warehouse


# -- the leak ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Leak:
    """The child and driver furthest below its own level, with the sentence naming it."""

    entity: Entity
    driver: Driver
    gap: float
    sentence: str


def weakest(
    children: Iterable[Entity], parent_own_gmv: float | None, lang: str, days: int
) -> Leak | None:
    """The child whose driver fell furthest below its own level, among children that sold at
    least ``MIN_CHILD_SHARE`` of the parent's own-level GMV and drivers labelled not good."""
    best: tuple[float, Entity, Driver] | None = None
    floor = MIN_CHILD_SHARE * (parent_own_gmv or 0.0)
    for e in children:
        if e.own_gmv is None or e.own_gmv < floor:
            continue
        for d in e.drivers:
            if d.label in ("good", "none") or d.value is None or not d.own:
                continue
            gap = (d.own - d.value) / d.own if d.key in LOWER_IS_BETTER else d.value / d.own - 1
            if d.key in LOWER_IS_BETTER:
                gap = -gap
            if gap < -BELOW_THRESHOLD and (best is None or gap < best[0]):
                best = (gap, e, d)
    if best is None:
        return None
    gap, e, d = best
    key = "drill.leak.higher" if d.key in LOWER_IS_BETTER else "drill.leak.lower"
    sentence = t(
        key,
        lang,
        kind=t(
            f"drill.kind.{e.kind if e.kind != 'account' or e.extra.get('own') else 'influencer'}",
            lang,
        ),
        name=entity_title(e, lang),
        driver=t(f"drill.driver.{d.key}", lang),
        gap=numbers.pct(abs(gap), lang, 0),
        days=REFERENCE_DAYS,
        before=d.own_text,
        now=d.text,
    )
    return Leak(e, d, gap, sentence)


def entity_title(e: Entity, lang: str) -> str:
    """How a person names an entity: an account's name, a session's room and start."""
    if e.kind == "session" and e.extra.get("started_at") is not None:
        ts = pd.Timestamp(e.extra["started_at"])
        return t(
            "drill.session_title",
            lang,
            name=e.name,
            day=numbers.day(ts.date(), lang),
            time=f"{ts:%H:%M}",
        )
    return e.name


# -- page contexts -------------------------------------------------------------------------------
LEVELS = ("brand", "account", "session", "skus", "influencers")
#: Which leak a bottleneck capability points to first.
LEAK_OF_CAPABILITY = {"self_operation": "account", "distribution": "influencer"}


def _empty(kind: str, entity_id: str, name: str, keys: Sequence[str], lang: str) -> Entity:
    return Entity(
        kind,
        entity_id,
        name,
        None,
        0.0,
        dict.fromkeys(SUMS, 0.0),
        drivers_of(keys, {}, {}, {}, lang),
    )


def _formula(e: Entity, lang: str) -> str:
    """The tree as one line of the level's own numbers."""
    d = {x.key: x.text for x in e.drivers}
    if e.kind == "sku":
        return t(
            "drill.formula_sku",
            lang,
            gmv=numbers.money(e.gmv, lang),
            orders=d["orders"],
            aov=d["aov"],
        )
    return t(
        "drill.formula",
        lang,
        gmv=numbers.money(e.gmv, lang),
        uv=d["uv"],
        watch=d["watch_hours_per_uv"],
        conversion=d["orders_per_watch_hour"],
        aov=d["aov"],
    )


def _sessions(
    rows: pd.DataFrame,
    brand_id: str,
    account_id: str,
    peer_mask: pd.Series | None,
    w: Window,
    lang: str,
    q: str,
) -> list[Entity]:
    """The account's sessions in the window against its average session of the own-level days."""
    mine = (rows["brand_id"] == brand_id) & (rows["account_id"] == account_id)
    ref = rows[mine & (rows["w"] == "ref")]
    n = ref["session_id"].nunique()
    shared = {c: float(ref[c].sum()) / n for c in SUMS} if n else {}
    return live_entities(
        rows,
        "session_id",
        mine,
        peer_mask,
        w,
        lang,
        kind="session",
        href=f"/brands/{brand_id}/drill/sessions/{{id}}{q}",
        shared_ref=shared,
    )


def drill_context(
    rm: ReadModel,
    wh: Warehouse,
    brand_id: str,
    lang: str,
    *,
    level: str = "brand",
    entity_id: str | None = None,
    days: int = WINDOWS[0],
    viewer: Principal | None = None,
) -> dict[str, Any]:
    """The context of one drill-down page; ``LookupError`` when the entity is not the brand's.

    The caller has checked that ``viewer`` sees the brand.
    """
    brand = rm.brand(brand_id)
    last = as_of(wh)
    if brand is None or last is None or level not in LEVELS:
        raise LookupError(brand_id)
    days = days if days in WINDOWS else WINDOWS[0]
    w = Window(days, last)
    q = f"?days={days}"
    peers = peer_brands(rm, brand_id, viewer)
    src = sources(wh)
    ids = [brand_id, *peers.brand_ids] if peers.shown else [brand_id]
    rows = wh.execute(session_rows(src, ids, w))
    if rows.empty:
        rows = pd.DataFrame(
            columns=[
                "brand_id",
                "session_id",
                "account_id",
                "account_name",
                "kind",
                "started_at",
                *SUMS,
                "own",
                "in_brand_tree",
                "w",
            ]
        )
    rows["own"] = rows["own"].astype(bool)
    rows["in_brand_tree"] = rows["in_brand_tree"].astype(bool)
    is_me = rows["brand_id"] == brand_id
    is_peer = rows["brand_id"].isin(peers.brand_ids) if peers.shown else None
    base = f"/brands/{brand_id}/drill"

    def peer_mask(extra: pd.Series) -> pd.Series | None:
        return None if is_peer is None else is_peer & extra

    tree_rows = rows["in_brand_tree"]
    found = live_entities(
        rows,
        "brand_id",
        is_me & tree_rows,
        peer_mask(tree_rows),
        w,
        lang,
        kind="brand",
        href=base + q,
    )
    me = (
        found[0]
        if found
        else _empty("brand", brand_id, str(brand.get("name") or brand_id), LIVE_DRIVERS, lang)
    )
    me.name = str(brand.get("name") or brand_id)
    crumbs = [(me.name, f"/brands/{brand_id}"), (t("drill.title", lang), base + q)]
    ctx: dict[str, Any] = {
        "brand": brand,
        "level": level,
        "days": days,
        "windows": WINDOWS,
        "window_text": t(
            "drill.window",
            lang,
            days=days,
            start=numbers.day(w.start.date(), lang),
            end=numbers.day(last, lang),
        ),
        "own_text": t(
            "drill.own_reference",
            lang,
            days=REFERENCE_DAYS,
            start=numbers.day(w.ref_start.date(), lang),
            end=numbers.day(w.start.date() - timedelta(days=1), lang),
        ),
        "peer_text": (
            t(f"drill.peer.{peers.basis}", lang, brands=numbers.count(len(peers.brand_ids), lang))
            if peers.shown
            else t("drill.peer.withheld", lang)
        ),
        "groups": [],
        "leaks": [],
        "crumbs": crumbs,
    }
    own_kind = rows["own"]
    inf_kind = rows["kind"] == "influencer"
    accounts = live_entities(
        rows,
        "account_id",
        is_me & own_kind,
        peer_mask(own_kind),
        w,
        lang,
        kind="account",
        href=base + "/accounts/{id}" + q,
    )
    influencers = live_entities(
        rows,
        "account_id",
        is_me & inf_kind,
        peer_mask(inf_kind),
        w,
        lang,
        kind="influencer",
        href=base + "/accounts/{id}" + q,
    )

    if level in ("brand", "skus"):
        b_sums = frame_sums(rows[tree_rows], "brand_id")
        uv = {(r["brand_id"], r["w"]): float(r["uv"]) for r in b_sums.to_dict("records")}
        skus = sku_entities(wh.execute(sku_rows(src, ids, w)), brand_id, peers, uv, w, lang, None)
    if level == "brand":
        ctx["entity"] = me
        ctx["groups"] = [
            {"kind": "account", "entities": accounts, "more": None},
            {
                "kind": "influencer",
                "entities": influencers[:10],
                "more": base + "/influencers" + q if len(influencers) > 10 else None,
            },
            {"kind": "sku", "entities": skus[:10], "more": base + "/skus" + q},
        ]
        ctx["leaks"] = _leaks(
            rm, rows, brand_id, me, accounts, influencers, skus, peer_mask, w, lang, q, viewer
        )
    elif level == "skus":
        ctx["entity"] = None
        ctx["title"] = t("drill.group.sku", lang)
        ctx["groups"] = [{"kind": "sku", "entities": skus, "more": None}]
        ctx["crumbs"].append((ctx["title"], None))
    elif level == "influencers":
        ctx["entity"] = None
        ctx["title"] = t("drill.group.influencer", lang)
        ctx["groups"] = [{"kind": "influencer", "entities": influencers, "more": None}]
        ctx["crumbs"].append((ctx["title"], None))
    elif level == "account":
        ctx.update(
            _account_level(
                rows, brand_id, str(entity_id), accounts, influencers, peer_mask, w, lang, q, base
            )
        )
    else:
        ctx.update(
            _session_level(rows, src, wh, brand_id, str(entity_id), peer_mask, w, lang, q, base)
        )
    if ctx.get("entity") is not None:
        ctx["formula"] = _formula(ctx["entity"], lang)
    for g in ctx["groups"]:
        for e in g["entities"]:
            e.title = entity_title(e, lang)
    ctx["threshold_text"] = numbers.pct(BELOW_THRESHOLD, lang, 0)
    return ctx


def _account_level(
    rows: pd.DataFrame,
    brand_id: str,
    account_id: str,
    accounts: list[Entity],
    influencers: list[Entity],
    peer_mask: Any,
    w: Window,
    lang: str,
    q: str,
    base: str,
) -> dict[str, Any]:
    mine = rows[(rows["brand_id"] == brand_id) & (rows["account_id"] == account_id)]
    if mine.empty:
        raise LookupError(account_id)
    own = bool(mine["own"].iloc[0])
    name = str(mine["account_name"].iloc[0] or account_id)
    entity = next(
        (e for e in (accounts if own else influencers) if e.entity_id == account_id), None
    )
    entity = entity or _empty("account", account_id, name, LIVE_DRIVERS, lang)
    sessions = _sessions(
        rows,
        brand_id,
        account_id,
        peer_mask(rows["own"] if own else rows["kind"] == "influencer"),
        w,
        lang,
        q,
    )
    leak = weakest(
        sessions, (entity.own_gmv or 0.0) / max(entity.sums.get("sessions", 1.0), 1.0), lang, w.days
    )
    crumb = [] if own else [(t("drill.group.influencer", lang), base + "/influencers" + q)]
    return {
        "entity": entity,
        "title": name,
        "groups": [{"kind": "session", "entities": sessions, "more": None}],
        "leaks": [{"sentence": leak.sentence, "href": leak.entity.href}] if leak else [],
        "crumbs_extra": [*crumb, (name, None)],
    }


def _session_level(
    rows: pd.DataFrame,
    src: Sources,
    wh: Warehouse,
    brand_id: str,
    session_id: str,
    peer_mask: Any,
    w: Window,
    lang: str,
    q: str,
    base: str,
) -> dict[str, Any]:
    mine = rows[
        (rows["brand_id"] == brand_id) & (rows["session_id"] == session_id) & (rows["w"] == "now")
    ]
    if mine.empty:
        raise LookupError(session_id)
    account_id = str(mine["account_id"].iloc[0])
    own = bool(mine["own"].iloc[0])
    sessions = _sessions(
        rows,
        brand_id,
        account_id,
        peer_mask(rows["own"] if own else rows["kind"] == "influencer"),
        w,
        lang,
        q,
    )
    entity = next(e for e in sessions if e.entity_id == session_id)
    sold = wh.execute(sku_rows(src, [brand_id], w, session_id=session_id))
    skus = [
        Entity(
            "sku",
            str(r["sku_id"]),
            str(r["sku_id"]),
            None,
            float(r["gmv"]),
            {"orders": float(r["orders"]), "gmv": float(r["gmv"])},
            drivers_of(("orders", "aov", "refund_rate"), sku_values(r, 0.0), {}, {}, lang),
        )
        for r in sold.sort_values("gmv", ascending=False).to_dict("records")
    ]
    title = entity_title(entity, lang)
    account = (
        str(mine["account_name"].iloc[0] or account_id),
        base + f"/accounts/{account_id}" + q,
    )
    return {
        "entity": entity,
        "title": title,
        "groups": [{"kind": "session_sku", "entities": skus, "more": None}],
        "crumbs_extra": [account, (title, None)],
    }


def _leaks(
    rm: ReadModel,
    rows: pd.DataFrame,
    brand_id: str,
    me: Entity,
    accounts: list[Entity],
    influencers: list[Entity],
    skus: list[Entity],
    peer_mask: Any,
    w: Window,
    lang: str,
    q: str,
    viewer: Principal | None,
) -> list[dict[str, Any]]:
    """The weakest live room (with the session behind it), influencer and product, the one
    behind the brand's bottleneck capability first."""
    out: list[dict[str, Any]] = []
    room = weakest(accounts, me.own_gmv, lang, w.days)
    if room is not None:
        item: dict[str, Any] = {
            "kind": "account",
            "sentence": room.sentence,
            "href": room.entity.href,
        }
        sessions = _sessions(
            rows, brand_id, room.entity.entity_id, peer_mask(rows["own"]), w, lang, q
        )
        key = room.driver.key
        sign = -1.0 if key in LOWER_IS_BETTER else 1.0
        found = [
            (sign * d.value, s, d)
            for s in sessions
            if (d := s.driver(key)) is not None and d.value is not None
        ]
        if found:
            _, s, d = min(found, key=lambda x: x[0])
            text = t("drill.leak.session", lang, session=entity_title(s, lang), value=d.text)
            item["session"] = (text, s.href)
        out.append(item)
    for kind, children in (("influencer", influencers), ("sku", skus)):
        leak = weakest(
            children,
            me.own_gmv if kind == "influencer" else sum(c.own_gmv or 0.0 for c in children),
            lang,
            w.days,
        )
        if leak is not None:
            href = leak.entity.href or f"/brands/{brand_id}/drill/skus{q}"
            out.append({"kind": kind, "sentence": leak.sentence, "href": href})
    diag = rm.diagnosis(brand_id, viewer=viewer)
    first = diag.bottlenecks[0].capability if diag.bottlenecks else None
    lead = LEAK_OF_CAPABILITY.get(str(first), "sku" if first == "special_supply" else None)
    out.sort(key=lambda x: x["kind"] != lead)
    return out
