"""The scenario language, typed with pydantic v2.

A scenario file has one top-level section per part of the model.  Field names carry their
units (``_days``, ``_per_day``, ``_usd``); probabilities are checked to lie in [0, 1]; dates
are ISO dates or whole-day offsets from ``start_date``; named things (munition classes,
air-defence systems, sanction levers, recommendation sets) are referenced by name and
cross-checked in :mod:`scenario_sim.lang.checks` so that a typo names the line it is on.

The model in :mod:`scenario_sim.model` reads every field defined here; ``docs/model.md``
explains what each one does to the numbers.

Bounds.  Every number is finite (``.nan`` and ``.inf`` are errors at the line they are
written on) and bounded.  The bounds are of two kinds: *plausibility* (a share is in
[0, 1], a growth rate is at most +100% a month, deliveries come at most daily) and *cost*:
together with the work budget of :mod:`scenario_sim.lang.budget` they keep one replication
within a stated time and memory, so a scenario that would hang or exhaust memory is a
validation error, not a run that never ends.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
)

from scenario_sim.lang.distributions import Distribution, Fixed

MAX_HORIZON_DAYS = 3650
"""Ten years: longer than any planning question the model is built for; the work budget
(:mod:`scenario_sim.lang.budget`), not the horizon, is what bounds a replication's cost."""

MAX_COUNT = 1e12
"""Stocks and thresholds of munitions or interceptors (far above any real arsenal)."""

MAX_RATE_COUNT = 1e9
"""Per-day production, per-wave capacity and per-delivery quantities."""

MAX_USD = 1e12
"""Unit costs and costs per shot, USD."""

MAX_DAYS = 3650.0
"""Durations, delays and ramps, days (the longest horizon)."""

MAX_GROWTH_PER_MONTH = 1.0
"""Compound growth per 30 days: at most doubling every month."""

MAX_WAVES_PER_DAY = 24.0
"""Wave opportunities per day on the poisson schedule (one an hour)."""

MAX_CONTACTS_PER_DAY = 10.0
"""Stochastic leader contacts per day."""

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case identifier: a-z, 0-9, _")]


def _probability(v: float) -> float:
    if not (0.0 <= v <= 1.0):
        raise ValueError("must be between 0 and 1")
    return v


Probability = Annotated[float, AfterValidator(_probability)]
Count = Annotated[float, Field(ge=0, le=MAX_COUNT)]
RateCount = Annotated[float, Field(ge=0, le=MAX_RATE_COUNT)]
Usd = Annotated[float, Field(ge=0, le=MAX_USD)]
Days = Annotated[float, Field(ge=0, le=MAX_DAYS)]
Growth = Annotated[float, Field(gt=-1, le=MAX_GROWTH_PER_MONTH)]
Weight = Annotated[float, Field(ge=0, le=1e6)]


def _date_or_offset(v: Any) -> dt.date | int:
    if isinstance(v, bool):
        raise ValueError("expected a date (YYYY-MM-DD) or a day offset (whole number >= 0)")
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, int) and v >= 0:
        return v
    if isinstance(v, float) and v.is_integer() and v >= 0:
        return int(v)
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            pass
    raise ValueError("expected a date (YYYY-MM-DD) or a day offset (whole number >= 0)")


DateOrOffset = Annotated[
    dt.date | int,
    PlainValidator(_date_or_offset),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "format": "date"}, {"type": "integer", "minimum": 0}],
            "description": "an ISO date (YYYY-MM-DD) or a whole-day offset from start_date",
        }
    ),
]


class Section(BaseModel):
    """Base for every section: unknown keys are errors (a typo must never pass silently)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- munitions


class Munition(Section):
    """A munition class the attacker launches (e.g. Shahed-type drones, cruise, ballistic)."""

    name: Name
    description: str = Field("", description="free text shown in reports")
    unit_cost_usd: Usd = Field(description="cost of one munition to the attacker, USD")


# --------------------------------------------------------------------------- contacts


ContactKind = Literal["call", "meeting"]
PauseScope = Literal["waves", "energy", "civilian", "military"]


class ForcedResponse(Section):
    """A known answer to one scheduled contact (the history, not a draw)."""

    kind: Literal["surge", "pause", "none"] = Field(description="surge, pause or none")
    pause_days: Annotated[float, Field(gt=0, le=MAX_DAYS)] | None = Field(
        None, description="length of the pause (default: attacker.pause.duration_days)")
    scope: PauseScope | None = Field(None, description="what the pause spares (default: attacker.pause.scope)")
    wave_factor: Probability | None = Field(
        None, description="scope waves: share of wave sizes during the pause (default: attacker.pause.wave_factor)")


class ScheduledContact(Section):
    """A leader contact on a known date."""

    date: DateOrOffset = Field(description="when the contact happened (at midday of that day)")
    kind: ContactKind = Field("call", description="call or meeting (surge triggers can filter on it)")
    status: Literal["confirmed", "denied"] = Field("confirmed", description="denied contacts are broadcast only "
                                                   "with contacts.broadcast_denied")
    note: str = Field("", description="source or remark")
    response: ForcedResponse | None = Field(
        None, description="the attacker's answer to this contact as recorded, instead of a drawn one "
        "(e.g. the 30-day energy pause agreed on 2025-03-18)")


class StochasticContacts(Section):
    """Further contacts as a Poisson process (thinned by sanction side effects)."""

    rate_per_day: Annotated[float, Field(ge=0, le=MAX_CONTACTS_PER_DAY)] = Field(
        description="mean contacts per day before sanctions")
    kind: ContactKind = "call"
    start: DateOrOffset = Field(0, description="no stochastic contacts before this date (e.g. the end "
                                "of the record of known contacts)")


class Contacts(Section):
    """Direct leader contacts, broadcast to every listener (attacker, defender, civil defence)."""

    scheduled: list[ScheduledContact] = Field([], max_length=10_000, description="contacts on known dates")
    stochastic: StochasticContacts | None = Field(None, description="further contacts as a Poisson process")
    broadcast_denied: bool = Field(
        False, description="whether contacts with status 'denied' are broadcast to listeners"
    )


# --------------------------------------------------------------------------- attacker


class Arsenal(Section):
    """One munition class's stock and production."""

    initial_stock: Count = Field(description="munitions in stock at day 0")
    production_per_day: RateCount = Field(description="munitions produced per day at day 0")
    production_growth_per_month: Growth = Field(
        0.0, description="compound growth of production per 30 days (0.05 = +5% a month)"
    )
    reserve_stock: Count = Field(0.0, description="stock the attacker never launches below")


class ClassWave(Section):
    """How one class takes part in a wave."""

    probability: Probability = Field(description="chance the class takes part in a given wave")
    size: Distribution = Field(description="munitions of this class in a wave it takes part in")
    size_growth_per_month: Growth | None = Field(
        None, description="this class's compound growth of wave sizes per 30 days (omit: the waves' common rate)")
    participation_loading: Annotated[float, Field(ge=0, le=0.99)] = Field(
        0.0, description="loading on the night's common factor (combined strikes; one-factor probit; 0: the class "
        "takes part independently of the others)")


class Waves(Section):
    """The ordinary (non-surge) strike-wave process."""

    schedule: Literal["nightly", "poisson"] = Field(
        "nightly",
        description="nightly: one wave opportunity each night; poisson: waves at a rate per day",
    )
    waves_per_day: Annotated[float, Field(gt=0, le=MAX_WAVES_PER_DAY)] = Field(
        1.0, description="wave opportunities per day (poisson schedule)")
    size_growth_per_month: Growth = Field(
        0.0, description="compound growth of wave sizes per 30 days"
    )
    tempo_log_sd: Annotated[float, Field(ge=0, le=2)] = Field(
        0.0, description="sd of the log of a per-period tempo factor on every wave's size (0: none)")
    tempo_period_days: Annotated[float, Field(ge=1, le=MAX_DAYS)] = Field(
        30.0, description="length of a tempo period, days")
    classes: dict[str, ClassWave] = Field(description="per munition class: participation and size")


class GrowthLaw(Section):
    """Growth that is uncertain and levels off (applies to wave sizes and every class's production)."""

    shock_per_month: Distribution | None = Field(
        None, description="added to every monthly growth rate, drawn once per replication (omit: none)")
    half_life_days: Annotated[float, Field(gt=0, le=1e6)] | None = Field(
        None, description="the log-growth rate halves every this many days, so growth levels off (omit: constant)")
    regime_log_shock_per_month: Distribution | None = Field(
        None, description="added to every monthly log-growth rate log(1 + g) from day regime_after_days on, "
        "drawn once per replication: growth changing between half-years (omit: none)")
    regime_after_days: Annotated[float, Field(ge=0, le=MAX_DAYS)] = Field(
        0.0, description="day from which regime_log_shock_per_month applies (calibrate: the end of its window)")


class Surge(Section):
    """The attacker's answer to a leader contact: a larger wave after a lag."""

    enabled: bool = Field(True, description="false switches surges off entirely")
    triggers: list[ContactKind] = Field(["call", "meeting"], description="contact kinds that can trigger a surge")
    probability: Distribution = Field(
        description="chance a contact is answered by a surge; a distribution is drawn once per "
        "replication (uncertainty about whether the pattern exists)"
    )
    lag_days: Distribution = Field(description="days from contact to the surge wave")
    size_multiplier: Distribution = Field(description="surge wave size as a multiple of an ordinary wave")
    stockpile_days: Days = Field(0.0, description="days before the surge during which waves shrink")
    stockpile_wave_factor: Probability = Field(1.0, description="ordinary wave size multiplier while stockpiling")


class Pause(Section):
    """The attacker's other answer to a leader contact: a pause in strikes after a lag.

    A contact is answered by a surge with probability ``surge.probability``, by a pause with
    ``pause.probability``, or by nothing; the two probabilities share one uniform per contact
    and must not sum to more than 1.
    """

    enabled: bool = Field(True, description="false switches pauses off entirely")
    triggers: list[ContactKind] = Field(["call", "meeting"], description="contact kinds that can trigger a pause")
    probability: Distribution = Field(
        description="chance a contact is answered by a pause; a distribution is drawn once per replication"
    )
    lag_days: Distribution = Field(default_factory=lambda: Fixed(value=0.0),
                                   description="days from contact to the start of the pause")
    duration_days: Distribution = Field(description="days the pause lasts")
    scope: PauseScope = Field(
        "waves", description="waves: wave sizes times wave_factor (0 = no waves); energy, civilian or "
        "military: waves go on but spare that target class (its share goes to the other classes)")
    wave_factor: Probability = Field(0.0, description="scope waves: share of wave sizes during a pause (0 = none)")


class TargetMix(Section):
    """Relative weights of what a hit strikes."""

    energy: Weight = Field(description="weight of energy infrastructure")
    civilian: Weight = Field(description="weight of civilian areas")
    military: Weight = Field(description="weight of military targets")


class Attacker(Section):
    """The attacker: arsenal, ordinary waves, surges after contacts, and what hits strike."""

    arsenal: dict[str, Arsenal] = Field(description="per munition class: stock and production")
    waves: Waves = Field(description="the ordinary wave process")
    surge: Surge = Field(description="the answer to leader contacts")
    pause: Pause | None = Field(None, description="the other answer to leader contacts: a pause; omit for none")
    growth: GrowthLaw = Field(GrowthLaw(), description="uncertainty and levelling-off of growth")
    targets: TargetMix = Field(description="relative weights of energy, civilian and military targets")


# --------------------------------------------------------------------------- air defence


class Doctrine(Section):
    """Shots per target: more while stock is high, fewer when it runs low."""

    mode: Literal["salvo", "shoot_look_shoot"] = Field(
        "salvo",
        description="salvo: fire all shots at once; shoot_look_shoot: fire one at a time until a kill",
    )
    shots_per_target: int = Field(1, ge=1, le=8)
    reduced_shots_per_target: int = Field(1, ge=1, le=8)
    reduce_below_stock: Count = Field(0.0, description="use reduced shots when stock is below this")


class Resupply(Section):
    """Periodic interceptor deliveries."""

    first: DateOrOffset = Field(description="date (or day offset) the first delivery is due")
    interval_days: float = Field(ge=1, le=MAX_DAYS, description="days between deliveries (at most daily: the "
                                 "model resolves engagements once a night)")
    quantity: int = Field(ge=0, le=int(MAX_RATE_COUNT), description="interceptors per delivery")
    lead_time_days: Distribution = Field(
        default_factory=lambda: Fixed(value=0.0), description="delay of each delivery past its due date"
    )


class Interceptors(Section):
    """A layer's interceptor inventory."""

    initial_stock: int = Field(ge=0, le=int(MAX_COUNT), description="interceptors on hand at day 0")
    resupply: Resupply | None = Field(None, description="periodic deliveries; omit for none")


class Density(Section):
    """A layer whose per-munition defeat probability depends on the size of the wave.

    The chance that a munition of class *c* survives the layer, ``1 - pk[c]``, is multiplied
    by ``(n / reference_wave_munitions) ^ survival_exponent[c]``, where *n* is the number of
    class-*c* munitions launched in the wave, held inside [``min_wave_munitions``,
    ``max_wave_munitions``] (the range of night sizes the exponent was fitted on, so the
    model does not extrapolate the trend).  ``pk`` is then the kill probability at the
    reference size.  A negative exponent means bigger waves are defeated more thoroughly
    (more fire groups and jammers committed); 0 is a density-independent layer.
    """

    reference_wave_munitions: float = Field(gt=0, le=MAX_RATE_COUNT,
                                            description="wave size (munitions of the class) at which pk applies")
    min_wave_munitions: float = Field(1.0, gt=0, le=MAX_RATE_COUNT,
                                      description="smaller waves are treated as this size")
    max_wave_munitions: float = Field(MAX_RATE_COUNT, gt=0, le=MAX_RATE_COUNT,
                                      description="larger waves are treated as this size")
    survival_exponent: dict[str, Annotated[float, Field(ge=-3, le=3)]] = Field(
        default_factory=dict, description="per class: exponent of wave size in the survival probability")


class System(Section):
    """One air-defence layer.  Leakers of one layer pass to the next in list order."""

    name: Name
    description: str = Field("", description="free text shown in reports")
    engages: list[str] = Field(min_length=1, description="classes engaged, highest priority first")
    pk: dict[str, Probability] = Field(description="single-shot kill probability per class")
    coverage: dict[str, Probability] = Field(
        default_factory=dict,
        description="share of a class's munitions flying within this layer's reach (default 1)",
    )
    capacity_per_wave: int = Field(ge=0, le=int(MAX_RATE_COUNT),
                                   description="targets engaged per wave at full readiness")
    interceptors: Interceptors | None = Field(
        None, description="inventory; omit for unlimited (electronic warfare, guns)"
    )
    doctrine: Doctrine = Field(Doctrine(), description="shots per target")
    density: Density | None = Field(
        None, description="wave-size dependence of the kill probability (layers without interceptors, salvo)")
    cost_per_shot_usd: Usd = Field(0.0, description="cost of one interceptor or engagement, USD")


PLACEBO_DESCRIPTION = ("placebo control (set by run --placebo): fire the rule as often as it would fire, but on "
                       "random non-contact days (stream placebo.<rule>) instead of on its signal")


class AfterContact(Section):
    """A rule that switches something on for a while after each contact."""

    enabled: bool = Field(False, description="switch the rule on")
    delay_days: Days = Field(0.0, description="days from the contact until the rule acts")
    duration_days: Days = Field(0.0, description="days the rule stays in force")
    placebo: bool = Field(False, description=PLACEBO_DESCRIPTION)


class ReadinessAfterContact(AfterContact):
    """Raise air-defence readiness for a while after each contact (recommendation 1)."""

    level: Probability = Field(1.0, description="readiness while the rule is in force")


class EarlyWarning(Section):
    """Logistics monitoring: a chance of spotting a surge being prepared."""

    enabled: bool = Field(False, description="switch the rule on")
    detection_probability: Probability = Field(0.0, description="chance a planned surge is spotted")
    lead_days: Days = Field(1.0, description="how long before the surge readiness is raised")
    level: Probability = 1.0
    placebo: bool = Field(False, description=PLACEBO_DESCRIPTION)


class Readiness(Section):
    """Readiness scales every layer's engagement capacity."""

    baseline: Probability = Field(description="share of engagement capacity available normally")
    after_contact: ReadinessAfterContact = Field(ReadinessAfterContact(), description="rule: raise after contacts")
    early_warning: EarlyWarning = Field(EarlyWarning(), description="rule: raise before detected surges")


class AirDefense(Section):
    """Ordered air-defence layers and the readiness rules."""

    readiness: Readiness = Field(description="readiness level and rules")
    systems: list[System] = Field(min_length=1, max_length=16, description="layers, outermost first")


# --------------------------------------------------------------------------- sanctions


class Lever(Section):
    """A sanction lever acting on the attacker's production (and maybe on contacts)."""

    name: Name
    kind: Literal["asset_freeze", "travel_ban", "financial_access", "export_controls"] = Field(
        description="which lever of the source texts this is")
    description: str = Field("", description="free text shown in reports")
    enabled: bool = Field(False, description="whether the lever acts (recommendation sets switch it on)")
    start: DateOrOffset = Field(0, description="date (or day offset) the lever starts")
    ramp_days: Days = Field(0.0, description="days from start to full effect (linear)")
    production_effect: dict[str, Probability] = Field(
        default_factory=dict, description="fractional cut in production per class at full effect"
    )
    evasion_half_life_days: Annotated[float, Field(gt=0, le=1e6)] | None = Field(
        None, description="half-life of the effect through evasion; omit for no decay"
    )
    contact_rate_effect: Probability = Field(
        0.0, description="fractional cut in the stochastic contact rate at full effect"
    )


class Sanctions(Section):
    """Additional sanction levers (status-quo sanctions are in the production rates)."""

    levers: list[Lever] = Field([], max_length=64, description="the levers, each switched on or off")


# --------------------------------------------------------------------------- consequences


class Energy(Section):
    """Energy-grid capacity as a share of the pre-war grid."""

    loss_per_hit: Probability = Field(description="share of grid capacity lost per energy hit")
    protection: Probability = Field(0.0, description="share of that loss avoided by protective works")
    repair_per_day: Probability = Field(description="share of capacity restored per day")
    floor: Probability = Field(description="capacity never falls below this")
    threshold: Probability = Field(description="days ending below this count as days_below")
    initial: Probability = Field(1.0, description="capacity at day 0")


class CivilDefense(Section):
    """Civil defence: alerts and shelters that cut harm per hit while active."""

    harm_factor_when_active: Probability = Field(description="harm per hit is multiplied by this while active")
    always_active: bool = Field(False, description="active all the time")
    after_contact: AfterContact = Field(AfterContact(), description="rule: activate after contacts (recommendation 4)")


class Consequences(Section):
    """What leakers do: hits, civilian harm, the energy grid."""

    hit_probability: dict[str, Probability] = Field(description="chance a leaker hits a target, per class")
    harm_per_civilian_hit: Distribution = Field(description="casualties per hit on a civilian target")
    energy: Energy = Field(description="the energy grid")
    civil_defense: CivilDefense = Field(description="civil defence")


# --------------------------------------------------------------------------- outputs, sets


BURDENS = ("alert_nights", "raised_readiness_nights")
"""Non-monetary burdens the model counts (outcomes ``burden.<name>``, see docs/costs.md):
``alert_nights``, nights on which civil defence is raised (its wave time falls in an
activation window); ``raised_readiness_nights``, nights on which air-defence readiness is
above its baseline level."""

Burden = Literal["alert_nights", "raised_readiness_nights"]


class Cost(Section):
    """What a recommendation set costs, in USD (``cost_usd`` adds these up per replication).

    ``one_off_usd`` is paid once; ``per_day_usd`` on every day of the horizon;
    ``per_burden_usd`` per unit of a burden the model counts (per alert night, per night of
    raised readiness), so a rule that fires more often costs more.  A bundle costs the sum of
    its sets' one-off and per-day costs (each set once); a burden unit is paid once, at the
    highest price any set of the bundle puts on it.
    """

    one_off_usd: Usd = Field(0.0, description="paid once, USD")
    per_day_usd: Usd = Field(0.0, description="paid on every day of the horizon, USD per day")
    per_burden_usd: dict[Burden, Usd] = Field(
        default_factory=dict, description="USD per unit of a burden the model counts (alert_nights: per night "
        "civil defence is raised; raised_readiness_nights: per night readiness is above its baseline)")
    source: str = Field("", description="where the figures come from: [source: ...] or [assumption: ...]")


class SetCost(Cost):
    """A cost in force in an effective scenario: the cost of set ``set`` (added by the loader)."""

    set: str = Field(description="the recommendation set (or 'baseline') this cost belongs to")


ObjectiveWeight = Annotated[float, Field(ge=0, le=1e12)]


class Objectives(Section):
    """What the analyst optimises: a weighted objective and/or constraints (docs/costs.md).

    The objective of a set is ``sum(weight[o] * mean(o))`` over the weighted outcomes, with the
    sign of each term chosen so that lower is better (an outcome where higher is better, such as
    ``energy.mean``, enters with a minus sign); each weight is in objective units per unit of its
    outcome.  A constraint bounds an outcome's mean in its better direction (at most for
    lower-is-better outcomes such as ``cost_usd``: a budget cap).
    """

    unit: str = Field("objective points", description="what one unit of the objective is (e.g. casualty-equivalents)")
    weights: dict[str, ObjectiveWeight] = Field(
        default_factory=dict, description="outcome -> weight, in objective units per unit of the outcome (>= 0)")
    constraints: dict[str, Annotated[float, Field(ge=-1e15, le=1e15)]] = Field(
        default_factory=dict, description="outcome -> bound on its mean, in its better direction "
        "(cost_usd: 2000000000 is a budget cap of $2bn)")


class Outputs(Section):
    """Which outcomes rank and show."""

    primary: str = Field("civilian_harm", description="outcome used to rank recommendation sets")
    key: list[str] = Field(default_factory=list, description="outcomes shown in tables")
    timeseries: bool = Field(False, description="store daily time series by default")
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="outcome -> bound it must meet, in its better direction (at most for lower-is-better "
        "outcomes, at least for higher): the satisficing test of explore runs")
    objectives: Objectives | None = Field(
        None, description="a weighted objective and/or constraints (budget cap, caps on burdens) the "
        "comparison reports against")


class Recommendation(Section):
    """A named patch over the baseline: changes, scalings and included sets."""

    name: Name
    description: str = Field("", description="what the set does, in a planner's words")
    include: list[str] = Field([], description="other sets applied first (a bundle)")
    changes: dict[str, Any] = Field(default_factory=dict, description="dotted path -> new value")
    scale: dict[str, Annotated[float, Field(ge=-1e6, le=1e6)]] = Field(
        default_factory=dict, description="dotted path -> multiplier (finite)")
    cost: Cost | None = Field(None, description="what the set costs (one-off, per day, per burden unit), USD")


# --------------------------------------------------------------------------- deep uncertainty


class _Range(Section):
    def extremes(self) -> list[float]:  # pragma: no cover - every range overrides it
        raise NotImplementedError


class UniformRange(_Range):
    """Every value in [low, high] equally likely."""

    dist: Literal["uniform"]
    low: float
    high: float

    def extremes(self) -> list[float]:
        return [self.low, self.high]


class TriangularRange(_Range):
    """Values in [low, high], most likely near ``mode``."""

    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    def extremes(self) -> list[float]:
        return [self.low, self.high]


class LogUniformRange(_Range):
    """Every order of magnitude in [low, high] equally likely (low > 0)."""

    dist: Literal["loguniform"]
    low: Annotated[float, Field(gt=0)]
    high: Annotated[float, Field(gt=0)]

    def extremes(self) -> list[float]:
        return [self.low, self.high]


class DiscreteRange(_Range):
    """One of the listed values, each equally likely."""

    dist: Literal["discrete"]
    values: list[float] = Field(min_length=1, description="the values (each equally likely)")

    def extremes(self) -> list[float]:
        return list(self.values)


Range = Annotated[
    UniformRange | TriangularRange | LogUniformRange | DiscreteRange,
    Field(discriminator="dist"),
]
"""The range of an uncertain input: ``{dist: uniform|triangular|loguniform|discrete, ...}``."""


class Uncertainty(Section):
    """An uncertain input for ``scenario-sim explore``: a number whose value is sampled per case."""

    name: Name
    path: str = Field(description="dotted path of the number, as recommendation sets write it (list items by name)")
    range: Range = Field(description="the values it may take: uniform, triangular, loguniform or discrete")
    scale: bool = Field(False, description="true: the sampled value multiplies the baseline value instead of "
                        "replacing it (a factor range)")
    description: str = Field(description="what the input is and why the range")
    source: str = Field(description="where the range comes from: [data ...], [seed ...], [assumption: ...]")


class WorldView(Section):
    """A structural view of adversary behaviour: a named patch over the baseline, with a weight."""

    name: Name
    description: str = Field("", description="the view, in a planner's words")
    weight: Weight = Field(1.0, description="relative belief in this view (normalised over worlds)")
    changes: dict[str, Any] = Field(default_factory=dict, description="dotted path -> new value")
    scale: dict[str, Annotated[float, Field(ge=-1e6, le=1e6)]] = Field(
        default_factory=dict, description="dotted path -> multiplier (finite)")


class Scenario(Section):
    """A complete scenario: a baseline world plus named recommendation sets."""

    name: Name = Field(description="scenario name (names the results folder); a-z, 0-9, _")
    description: str = Field("", description="free text shown in reports")
    start_date: dt.date = Field(description="calendar date of day 0")
    horizon_days: int = Field(gt=0, le=MAX_HORIZON_DAYS, description="days simulated")
    replications: int = Field(100, gt=0, le=1_000_000, description="default replications per set (run -n overrides)")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="default master seed (run --seed overrides)")
    munitions: list[Munition] = Field(min_length=1, max_length=16, description="the munition classes")
    contacts: Contacts = Field(Contacts(), description="leader contacts")
    attacker: Attacker = Field(description="the attacker")
    air_defense: AirDefense = Field(description="the air defence")
    sanctions: Sanctions = Field(Sanctions(), description="sanction levers")
    consequences: Consequences = Field(description="consequences of leakers")
    outputs: Outputs = Field(Outputs(), description="ranking and display")
    recommendations: list[Recommendation] = Field([], max_length=10_000, description="named patches over this baseline")
    costs: list[SetCost] = Field([], max_length=10_000, description="costs in force: the loader adds the applied "
                                 "sets' cost to these; a dumped effective scenario (show --set) carries them, "
                                 "otherwise leave it out and write costs under recommendations[<set>].cost")
    uncertainties: list[Uncertainty] = Field([], max_length=10_000,
                                             description="uncertain inputs sampled by scenario-sim explore")
    worlds: list[WorldView] = Field([], max_length=10_000, description="alternative views of adversary behaviour "
                                    "for scenario-sim explore (the baseline as written is used when empty)")

    # Convenience accessors used across the package.
    @property
    def class_names(self) -> list[str]:
        return [m.name for m in self.munitions]

    @property
    def system_names(self) -> list[str]:
        return [s.name for s in self.air_defense.systems]

    @property
    def stocked_system_names(self) -> list[str]:
        return [s.name for s in self.air_defense.systems if s.interceptors is not None]

    @property
    def costed(self) -> bool:
        """Whether the scenario declares any cost or objectives: then runs have the outcomes
        ``cost_usd`` and ``burden.<name>`` (a scenario without costs keeps its columns)."""
        return bool(self.costs) or self.outputs.objectives is not None or any(
            r.cost is not None for r in self.recommendations)

    def day_of(self, when: dt.date | int) -> int:
        """A DateOrOffset as a day offset from start_date."""
        if isinstance(when, dt.date):
            return (when - self.start_date).days
        return when

    def recommendation(self, name: str) -> Recommendation:
        for r in self.recommendations:
            if r.name == name:
                return r
        raise KeyError(name)
