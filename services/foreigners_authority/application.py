"""The foreigners authority's application: commands on residence files."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.utils import EnvType, get_topic, strtobool
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from kernel.clock import today_in_germany as today_in_germany  # api.py takes it from here
from kernel.errors import NotAllowed
from services.foreigners_authority import search_index
from services.foreigners_authority.codelists import load_codelists
from services.foreigners_authority.domain import (
    ArrivalFacts,
    DomainError,
    EntryMode,
    InboundMessage,
    InvalidValue,
    ResidenceFile,
    TitleKind,
    UnknownPerson,
    check_arrival,
    inbound_id,
    legacy_inbound_id,
)
from services.foreigners_authority.index_writer import IndexWriter
from services.runtime.context import CommandContext, current_context, use_context
from services.runtime.erasure import refuse_if_erased
from services.runtime.eventstore import META_ATTRIBUTE, HubApplication
from services.runtime.subject_access import history
from services.runtime.vault import (
    PersonalDataUnavailable,
    PersonalDataVault,
    PersonErased,
    PersonRestricted,
)

log = logging.getLogger(__name__)

SERVICE = "foreigners_authority"
_AZR_NUMBER = re.compile(r"^\d{12}$")
#: the one refusal for a file the sender does not hold, whether it exists or not
NOT_HELD = "your authority holds no residence file for this person"
NOT_YOURS = "an authority registers arrivals for itself only: abhId must name your authority"


@dataclass(frozen=True)
class RegisterArrival:
    """Register a person's arrival: file opened, entry recorded, residence registered."""

    given_names: str
    family_name: str
    birth_date: date
    azr_number: str
    nationalities: list[str]
    entry_date: date
    entry_mode: EntryMode
    municipality_key: str
    registered_on: date
    abh_id: str
    #: the registering authority (``None``: the hub's admin); it registers for itself only
    agency: str | None = None


@dataclass(frozen=True)
class GrantResidenceTitle:
    person_id: UUID
    title: TitleKind
    paragraph: str
    valid_from: date
    valid_until: date | None
    granted_on: date
    conditions: list[str] = field(default_factory=list)
    #: the deciding authority (``None``: the hub's admin); it decides on files it holds only
    agency: str | None = None


@dataclass(frozen=True)
class ConsentDecision:
    """The authority's decision on a consent for a person's file; ``agency`` is the deciding
    authority (``None`` for the hub's admin)."""

    person_id: UUID
    consent_id: UUID
    agency: str | None


@dataclass(frozen=True)
class SearchTerms:
    """What the authority searches its files by (each given term must match; the given name
    only with the family name); ``authority`` is the caller's (``None``: the hub's admin)."""

    family_name: str | None = None
    given_name: str | None = None
    birth_date: date | None = None
    azr_number: str | None = None
    authority: str | None = None
    limit: int = search_index.MAX_RESULTS


@dataclass(frozen=True)
class _SealedIdentity:
    """A new file's searchable values as stored (ciphertext), waiting for the index writer."""

    names_enc: str
    birth_date_enc: str
    azr_number_enc: str


@dataclass(frozen=True)
class Receipt:
    """The answer to an inbound message: accepted, duplicate, or rejected with reasons."""

    message_id: str
    status: str
    person_id: UUID | None
    position: int | None = None
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class CommandResult:
    """The position of the command's last event in the service's log, and the new id."""

    position: int
    person_id: UUID | None = None

    @property
    def ids(self) -> dict[str, str]:
        return {"person_id": str(self.person_id)} if self.person_id else {}


class ForeignersAuthority(HubApplication):
    """Ausländerbehörde: residence files kept as event-sourced aggregates."""

    name = SERVICE

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        vault: PersonalDataVault,
        today: Callable[[], date] = today_in_germany,
    ) -> None:
        super().__init__(env)
        self.vault = vault
        self.today = today
        #: the blind index of names, birth dates and AZR numbers (search_index.py); none in a
        #: process without the vault master key (the relay) or off PostgreSQL
        self.search_index: search_index.SearchIndex | None = None
        #: writes new files' tokens off the command's path (index_writer.py); it writes at
        #: once until :meth:`start_index_writer` starts its thread (the command server does)
        self.index_writer: IndexWriter[_SealedIdentity] | None = None
        recorder = self.recorder
        if vault.holds_master_key and isinstance(recorder, PostgresAggregateRecorder):
            self.search_index = search_index.SearchIndex(
                recorder.datastore,
                recorder.datastore.schema,
                search_index.Tokens(vault.derived_key(f"{SERVICE} blind index")),
            )
            if strtobool(self.env.get("CREATE_TABLE") or "y"):
                self.search_index.setup()
            self.index_writer = IndexWriter(self.search_index, self._unsealed)

    # -- the blind index ------------------------------------------------------------------
    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Save, then keep the blind index in step with the saved files: a new file is handed
        to the index writer (its tokens are written off the command's path), a transferred
        file's tokens are moved. A failure there does not fail the command (its events are
        stored): the index job (:meth:`index_unindexed_files`) adds what is missing."""
        opened: list[ResidenceFile] = []
        moved: dict[UUID, str] = {}
        for obj in objs:
            if not isinstance(obj, ResidenceFile):
                continue
            for pending in obj.pending_events:
                if isinstance(pending, ResidenceFile.PersonRegistered):
                    opened.append(obj)
                elif isinstance(pending, ResidenceFile.CaseFileTransferred):
                    moved[obj.id] = obj.abh_id
        recordings = super().save(*objs, **kwargs)
        writer = self.index_writer
        if writer is not None and (opened or moved):
            try:
                writer.submit(
                    [
                        (
                            f.id,
                            f.abh_id,
                            _SealedIdentity(f.names_enc, f.birth_date_enc, f.azr_number_enc),
                        )
                        for f in opened
                    ]
                )
                writer.move({p: a for p, a in moved.items() if p not in {f.id for f in opened}})
            except Exception as error:  # the events are stored; the index job catches up
                log.warning("search index: not updated now (%s)", type(error).__name__)
        return recordings

    def start_index_writer(self) -> None:
        """Write new files' tokens on the index writer's thread from now on (the command
        server calls it; :meth:`close` stops it after writing what is waiting)."""
        if self.index_writer is not None:
            self.index_writer.start()

    def close(self) -> None:
        if self.index_writer is not None:
            try:
                self.index_writer.stop()
            except Exception as error:  # left to the index job at the next start
                log.warning("search index: not written at close (%s)", type(error).__name__)
        super().close()

    def _unsealed(self, person_id: UUID, sealed: _SealedIdentity) -> search_index.Identity:
        names = json.loads(self.vault.decrypt(person_id, "names", sealed.names_enc))
        return search_index.Identity(
            family_name=names["family"],
            given_names=names["given"],
            birth_date=self.vault.decrypt(person_id, "birth_date", sealed.birth_date_enc),
            azr_number=self.vault.decrypt(person_id, "azr_number", sealed.azr_number_enc),
        )

    def _identity(self, file: ResidenceFile) -> search_index.Identity:
        return self._unsealed(
            file.id, _SealedIdentity(file.names_enc, file.birth_date_enc, file.azr_number_enc)
        )

    def search_persons(self, terms: SearchTerms) -> list[UUID]:
        """The persons whose files the caller's authority holds and whose normalised family
        name, given name, birth date and AZR number equal every term given; without those
        whose data was erased or whose processing is restricted. No term is logged."""
        if terms.given_name and not terms.family_name:
            raise InvalidValue("a search by given name needs the family name too", "familyName")
        index = self.search_index
        if index is None:
            raise NotAllowed("this process keeps no search index", None)
        tokens = index.tokens.of_terms(
            family_name=terms.family_name,
            given_name=terms.given_name,
            birth_date=terms.birth_date,
            azr_number=terms.azr_number,
        )
        if not tokens:
            raise InvalidValue("name a family name, a birth date or an AZR number", "familyName")
        if search_index.GIVEN_NAME in tokens and search_index.FAMILY_NAME not in tokens:
            raise InvalidValue("a search by given name needs the family name too", "familyName")
        if self.index_writer is not None:  # first what is waiting: a file saved is found
            self.index_writer.drain()
        found = index.find(tokens, terms.authority, min(terms.limit, search_index.MAX_RESULTS))
        return search_index.without(found, self.vault.withdrawn_many(found))

    def index_unindexed_files(self, batch: int = 500) -> int:
        """Build the tokens of every file that has none under the current key (the demo data,
        a store from before the index, a save whose index update failed) and delete those of
        erased persons and of an old key; idempotent. Returns how many files it indexed."""
        index = self.search_index
        recorder = self.recorder
        if index is None or not isinstance(recorder, PostgresAggregateRecorder):
            return 0
        index.purge()
        topic = get_topic(ResidenceFile.PersonRegistered)
        done = 0
        skipped: set[UUID] = set()
        while True:
            ids = [
                p
                for p in index.unindexed(recorder.events_table_name, topic, batch + len(skipped))
                if p not in skipped
            ]
            if not ids:
                return done
            files = []
            for person_id, file in self._stored_many(ids).items():
                try:
                    files.append((person_id, file.abh_id, self._identity(file)))
                except PersonalDataUnavailable:  # erased meanwhile, or no key: nothing to find
                    skipped.add(person_id)
            if self.index_writer is not None:
                with self.index_writer.writing():
                    index.index(files)
            else:
                index.index(files)
            skipped |= set(ids) - {f[0] for f in files} - skipped
            done += len(files)
            if not files:
                return done

    def erase_person(self, person_id: UUID, ground: Any, rule: str | None = None) -> Any:
        """Erase the person's data (services/runtime/erasure.py), then delete their tokens
        from the search index in the same step (a repeated erasure deletes what is left)."""
        outcome = super().erase_person(person_id, ground, rule)
        if self.index_writer is not None:  # also drops a file of theirs still waiting
            self.index_writer.forget(person_id)
        return outcome

    def register_arrival(self, command: RegisterArrival) -> CommandResult:
        if command.agency is not None and command.abh_id != command.agency:
            raise NotAllowed(NOT_YOURS, "abhId")
        file = self._new_file(command)
        recordings = self.save(file)
        return CommandResult(position=recordings[-1].notification.id, person_id=file.id)

    def _new_file(self, command: RegisterArrival) -> ResidenceFile:
        facts = self._checked_arrival(command)
        person_id = uuid.uuid4()
        self.vault.create_key(person_id)
        return self._opened_file(command, facts, person_id)

    def _checked_arrival(self, command: RegisterArrival) -> ArrivalFacts:
        """The arrival's facts, checked before a key is made for a person we will not record."""
        if not command.given_names.strip() and not command.family_name.strip():
            raise InvalidValue("a name is needed", "familyName")
        if not _AZR_NUMBER.match(command.azr_number):
            raise InvalidValue("the AZR number must be 12 digits", "azrNumber")
        facts = ArrivalFacts(
            birth_date=command.birth_date,
            nationalities=list(command.nationalities),
            entry_date=command.entry_date,
            entry_mode=command.entry_mode,
            municipality_key=command.municipality_key,
            registered_on=command.registered_on,
        )
        check_arrival(facts, self.today())
        codes = load_codelists()
        codes.check_nationalities(facts.nationalities)
        codes.check_municipality(facts.municipality_key)
        return facts

    def _opened_file(
        self, command: RegisterArrival, facts: ArrivalFacts, person_id: UUID
    ) -> ResidenceFile:
        """The new file of a checked arrival, its personal values encrypted under the
        person's key (made already)."""
        names = json.dumps(
            {"given": command.given_names.strip(), "family": command.family_name.strip()},
            ensure_ascii=False,
        )
        return ResidenceFile.register_arrival(
            person_id=person_id,
            names_enc=self.vault.encrypt(person_id, "names", names),
            birth_date_enc=self.vault.encrypt(
                person_id, "birth_date", command.birth_date.isoformat()
            ),
            azr_number_enc=self.vault.encrypt(person_id, "azr_number", command.azr_number),
            abh_id=command.abh_id,
            facts=facts,
            today=self.today(),
        )

    def grant_residence_title(self, command: GrantResidenceTitle) -> CommandResult:
        codes = load_codelists()
        codes.check_title(str(command.title), command.paragraph)
        codes.check_limit(command.paragraph, command.valid_until)
        file = (
            self._live_file(command.person_id)
            if command.agency is None
            else self._held_file(command.person_id, command.agency, "personId")
        )
        file.grant_residence_title(
            title=command.title,
            paragraph=command.paragraph,
            granted_on=command.granted_on,
            valid_from=command.valid_from,
            valid_until=command.valid_until,
            conditions=list(command.conditions),
            today=self.today(),
        )
        recordings = self.save(file)
        return CommandResult(position=recordings[-1].notification.id, person_id=file.id)

    def confirm_consent(self, decision: ConsentDecision) -> CommandResult:
        file = self._decided_file(decision)
        file.confirm_consent(consent_id=decision.consent_id, today=self.today())
        return CommandResult(position=self.save(file)[-1].notification.id, person_id=file.id)

    def decline_consent(self, decision: ConsentDecision) -> CommandResult:
        file = self._decided_file(decision)
        file.decline_consent(consent_id=decision.consent_id, today=self.today())
        return CommandResult(position=self.save(file)[-1].notification.id, person_id=file.id)

    def _decided_file(self, decision: ConsentDecision) -> ResidenceFile:
        if decision.agency is None:  # the hub's admin
            return self._live_file(decision.person_id)
        return self._held_file(decision.person_id, decision.agency, "personId")

    def receive(self, form: Any) -> Receipt:
        """Apply one inbound message exactly once: the change and the record of the message
        are saved in one transaction; a repeat by the same sender gets the first receipt's person
        back. Message ids are per sender: the key is the sender and the message id."""
        from services.foreigners_authority.inbound.apply import change_for, check_codes
        from services.foreigners_authority.inbound.messages import AddressChange, NewPerson

        message_key = inbound_id(form.sender, form.message_id)
        earlier = self._earlier(message_key, form.sender, form.message_id)
        if earlier is not None:
            return Receipt(form.message_id, "duplicate", earlier)
        try:
            if isinstance(form.body, NewPerson):
                file = self._new_file(_arrival_of(form))
            else:
                check_codes(form.body)
                # an address change names the person in its body, every other message in the
                # envelope
                in_body = isinstance(form.body, AddressChange)
                person_id = form.body.person_id if in_body else form.person_id
                file = self._held_file(
                    person_id, form.sender, "body.personId" if in_body else "personId"
                )
                change_for(form.body)(file, self.today())
        except DomainError as error:
            return _rejection(form.message_id, error)
        message = InboundMessage(
            id=message_key,
            message_id=form.message_id,
            message_type=form.message_type,
            person_id=file.id,
            sender=form.sender,
        )
        try:
            recordings = self.save(file, message)
        except RecordConflictError:  # the same message accepted meanwhile, or the file changed
            earlier = self._earlier(message_key, form.sender, form.message_id)
            if earlier is None:  # not this message: the file changed; the caller tries again
                raise
            return Receipt(form.message_id, "duplicate", earlier)
        position = max(
            r.notification.id
            for r in recordings
            if not isinstance(r.domain_event, InboundMessage.Accepted)
        )
        return Receipt(form.message_id, "accepted", file.id, position)

    def receive_batch(self, forms: Sequence[Any]) -> list[Receipt]:
        """Apply many inbound messages in their order, each exactly once as :meth:`receive`
        does, and give a receipt for each, in one transaction: the changes and the records of
        all accepted messages are saved together, or nothing is. The earlier messages, the files
        and their erasure states are read in one query each, the new persons' keys made in one
        statement.

        Each message's events carry its own context (the current one, correlated with the
        message id). When the transaction conflicts with a concurrent writer (a file changed
        meanwhile, or the same message accepted meanwhile), the messages are applied one by one
        instead, with :meth:`receive`: what was stored meanwhile is then a duplicate."""
        from services.foreigners_authority.inbound.apply import change_for, check_codes
        from services.foreigners_authority.inbound.messages import AddressChange, NewPerson

        context = current_context()
        base_meta = context.as_meta() if context is not None else None
        keys = [inbound_id(form.sender, form.message_id) for form in forms]
        legacy_keys = [legacy_inbound_id(form.message_id) for form in forms]
        persons = [_person_named(form) for form in forms]
        stored = self._stored_many([*keys, *legacy_keys, *(p for p in persons if p is not None)])

        def earlier(index: int) -> UUID | None:
            for key in (keys[index], legacy_keys[index]):
                message = stored.get(key)
                if isinstance(message, InboundMessage) and message.sender == forms[index].sender:
                    return message.person_id
            return None

        # first the new persons' facts, so that all their keys are made in one statement
        arrivals: dict[int, tuple[RegisterArrival, ArrivalFacts, UUID] | DomainError] = {}
        for index, form in enumerate(forms):
            if isinstance(form.body, NewPerson) and earlier(index) is None:
                command = _arrival_of(form)
                try:
                    arrivals[index] = (command, self._checked_arrival(command), uuid.uuid4())
                except DomainError as error:
                    arrivals[index] = error
        self.vault.create_keys([a[2] for a in arrivals.values() if isinstance(a, tuple)])
        withdrawn = self.vault.withdrawn_many(
            [p for p, file in stored.items() if isinstance(file, ResidenceFile)]
        )

        receipts: list[Receipt | None] = [None] * len(forms)
        accepted: dict[UUID, int] = {}  # message key -> index of its accepted message
        changed: dict[UUID, ResidenceFile] = {}
        records: list[InboundMessage.Accepted] = []
        caused: dict[int, list[int]] = {}  # index -> ids of its events (not the record's)
        tainted = False
        for index, form in enumerate(forms):
            key = keys[index]
            if key in accepted:  # also within the batch: a message id counts once
                first = receipts[accepted[key]]
                receipts[index] = Receipt(
                    form.message_id, "duplicate", first.person_id if first else None
                )
                continue
            person_id = earlier(index)
            if person_id is not None:
                receipts[index] = Receipt(form.message_id, "duplicate", person_id)
                continue
            touched: ResidenceFile | None = None
            before = 0
            try:
                if isinstance(form.body, NewPerson):
                    arrival = arrivals[index]
                    if isinstance(arrival, DomainError):
                        raise arrival
                    file = self._opened_file(*arrival)
                    new_events = list(file.pending_events)
                else:
                    check_codes(form.body)
                    in_body = isinstance(form.body, AddressChange)
                    field = "body.personId" if in_body else "personId"
                    person = persons[index]
                    assert person is not None
                    held = changed.get(person, stored.get(person))
                    if not isinstance(held, ResidenceFile) or not held.held_by(form.sender):
                        raise UnknownPerson(NOT_HELD, field)
                    if withdrawn.get(person) == "erased":
                        raise PersonErased(field)
                    if withdrawn.get(person) == "restricted":
                        raise PersonRestricted(field)
                    file = touched = held
                    before = len(held.pending_events)
                    change_for(form.body)(file, self.today())
                    new_events = file.pending_events[before:]
            except DomainError as error:
                if touched is not None and len(touched.pending_events) != before:
                    tainted = True  # a change refused half-way: its file is not to be saved
                receipts[index] = _rejection(form.message_id, error)
                continue
            record = InboundMessage.accepted(  # the record's event, saved as it is
                id=key,
                message_id=form.message_id,
                message_type=form.message_type,
                person_id=file.id,
                sender=form.sender,
            )
            if base_meta is not None:  # each message's events carry its own correlation
                meta = {**base_meta, "correlation_id": form.message_id}
                for domain_event in new_events:
                    object.__setattr__(domain_event, META_ATTRIBUTE, meta)
                object.__setattr__(record, META_ATTRIBUTE, meta)
            caused[index] = [id(e) for e in new_events]
            changed[file.id] = file
            records.append(record)
            accepted[key] = index
            receipts[index] = Receipt(form.message_id, "accepted", file.id)
        if tainted:  # never expected of the domain model: then safely, one by one
            return [self._receive_in(context, form) for form in forms]
        if not records:
            return [r for r in receipts if r is not None]
        try:
            recordings = self.save(*changed.values(), *records)
        except RecordConflictError:  # a concurrent writer: one by one, each exactly once
            # (a file changed meanwhile raises again, and the caller tries the batch again:
            # what was stored of it is then a duplicate)
            return [self._receive_in(context, form) for form in forms]
        positions = {id(r.domain_event): r.notification.id for r in recordings}
        done: list[Receipt] = []
        for index, receipt in enumerate(receipts):
            assert receipt is not None
            if caused.get(index):
                receipt = replace(receipt, position=max(positions[e] for e in caused[index]))
            done.append(receipt)
        return done

    def _receive_in(self, context: CommandContext | None, form: Any) -> Receipt:
        if context is None:
            return self.receive(form)
        with use_context(replace(context, correlation_id=form.message_id)):
            return self.receive(form)

    def _stored_many(self, ids: Sequence[UUID]) -> dict[UUID, Any]:
        """The aggregates among ``ids`` that exist, each read in one query."""
        recorder = self.recorder
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        if not isinstance(recorder, PostgresAggregateRecorder):  # not PostgreSQL: one by one
            found: dict[UUID, Any] = {}
            for aggregate_id in unique:
                try:
                    found[aggregate_id] = self.repository.get(aggregate_id)
                except AggregateNotFoundError:
                    continue
            return found
        statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table}"
            " WHERE originator_id = ANY(%b) ORDER BY originator_id, originator_version"
        ).format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name),
        )
        with (
            recorder.datastore.get_connection() as connection,
            connection.cursor(row_factory=tuple_row) as cursor,
        ):
            # binary both ways: ids as their 16 bytes, states without the hex text
            cursor.execute(statement, [unique], binary=True)
            rows = cursor.fetchall()
        events: dict[UUID, list[Any]] = {}
        for originator_id, version, topic, state in rows:
            stored = StoredEvent(
                originator_id=originator_id,
                originator_version=version,
                topic=topic,
                state=bytes(state),
            )
            domain_event = self.mapper.to_domain_event(stored)
            events.setdefault(domain_event.originator_id, []).append(domain_event)
        found = {}
        for aggregate_id, recorded in events.items():
            aggregate = None
            for domain_event in recorded:  # as project_aggregate, without its protocol check
                aggregate = domain_event.mutate(aggregate)
            if aggregate is not None:
                found[aggregate_id] = aggregate
        return found

    def _earlier(self, message_key: UUID, sender: str, message_id: str) -> UUID | None:
        """The person of the sender's earlier message with this id, if it sent one (also one
        recorded under the legacy key, which named the message id only)."""
        for key in (message_key, legacy_inbound_id(message_id)):
            try:
                message: object = self.repository.get(key)
            except AggregateNotFoundError:
                continue
            if isinstance(message, InboundMessage) and message.sender == sender:
                return message.person_id
        return None

    def _held_file(self, person_id: UUID, authority: str, field: str) -> ResidenceFile:
        """The file, if ``authority`` holds it. A file held by another authority gets the same
        refusal as a person id that names no file, so the answer tells nothing about it."""
        try:
            file = self._file(person_id)
        except UnknownPerson:
            file = None
        if file is None or not file.held_by(authority):
            raise UnknownPerson(NOT_HELD, field)
        refuse_if_erased(self.vault, person_id, field)
        return file

    def residence_file(self, person_id: UUID) -> dict[str, Any]:
        """The file in clear text, for the authority's own staff."""
        file = self._file(person_id)
        names = json.loads(self.vault.decrypt(person_id, "names", file.names_enc))
        return {
            "person_id": str(file.id),
            "given_names": names["given"],
            "family_name": names["family"],
            "birth_date": self.vault.decrypt(person_id, "birth_date", file.birth_date_enc),
            "azr_number": self.vault.decrypt(person_id, "azr_number", file.azr_number_enc),
            "nationalities": list(file.nationalities),
            "entry_date": file.entry_date.isoformat() if file.entry_date else None,
            "entry_mode": str(file.entry_mode) if file.entry_mode else None,
            "municipality_key": file.municipality_key,
            "titles": [
                {k: (v.isoformat() if isinstance(v, date) else v) for k, v in t.items()}
                for t in file.titles
            ],
        }

    def subject_access(self, person_id: UUID) -> dict[str, Any] | None:
        """Everything the authority holds on the person, in clear text, for the data-protection
        officer's Art. 15 report: the file, every recorded step of it (decisions included) and
        its decisions on consents; None without a file. Raises ``PersonalDataUnavailable``
        once the person's key is erased."""
        try:
            file = self._file(person_id)
        except UnknownPerson:
            return None
        events = history(
            self.events.get(person_id),
            lambda field, token: self.vault.decrypt(person_id, field, token),
        )
        decisions = [
            {
                "consent_id": record["fields"]["consent_id"],
                "decision": "confirmed" if record["event"] == "consent_confirmed" else "declined",
                "on": record["fields"].get("confirmed_on") or record["fields"].get("declined_on"),
            }
            for record in events
            if record["event"] in ("consent_confirmed", "consent_declined")
        ]
        return {
            "residence_file": self.residence_file(person_id),
            "holding_authority": file.abh_id,
            "history": events,
            "consent_decisions": decisions,
        }

    def _file(self, person_id: UUID) -> ResidenceFile:
        try:
            file: object = self.repository.get(person_id)
        except AggregateNotFoundError:
            raise UnknownPerson(f"no residence file for person {person_id}", "personId") from None
        if not isinstance(file, ResidenceFile):  # the id names another kind of aggregate
            raise UnknownPerson(f"no residence file for person {person_id}", "personId")
        return file

    def _live_file(self, person_id: UUID) -> ResidenceFile:
        """The file (for the hub's admin, who acts for any authority), unless erased."""
        file = self._file(person_id)
        refuse_if_erased(self.vault, person_id)
        return file


def _arrival_of(form: Any) -> RegisterArrival:
    """The arrival a ``new_person`` notice stands for, registered by its sender."""
    body = form.body
    return RegisterArrival(
        given_names=body.given_names,
        family_name=body.family_name,
        birth_date=body.birth_date,
        azr_number=body.azr_number,
        nationalities=list(body.nationalities),
        entry_date=body.entry_date,
        entry_mode=body.entry_mode,
        municipality_key=body.municipality_key,
        registered_on=body.registered_on,
        abh_id=form.sender,
    )


def _person_named(form: Any) -> UUID | None:
    """The person an inbound message is about (None for a new person): an address change
    names it in its body, every other message in the envelope."""
    from services.foreigners_authority.inbound.messages import AddressChange, NewPerson

    if isinstance(form.body, AddressChange):
        return form.body.person_id
    if isinstance(form.body, NewPerson):
        return None
    return form.person_id  # type: ignore[no-any-return]


def _rejection(message_id: str, error: DomainError) -> Receipt:
    field = f"body.{error.field}" if error.field else "body"
    if isinstance(error, UnknownPerson | PersonErased | PersonRestricted):
        field = error.field or "personId"
    return Receipt(
        message_id,
        "rejected",
        None,
        errors=[{"field": field, "message": error.message, "code": error.code}],
    )
