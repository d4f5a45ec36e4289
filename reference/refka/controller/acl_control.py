"""CreateAcls and DeleteAcls at the controller (Kafka's ``AclControlManager``): ACLs become
AccessControlEntryRecord / RemoveAccessControlEntryRecord in the metadata log.

A creation Kafka cannot build (an ANY operation, say) fails the whole request with
UNKNOWN_SERVER_ERROR; one it refuses (an empty name) gets INVALID_REQUEST; an ACL that exists
already is answered success and writes nothing; a DeleteAcls filter removes every ACL it
matches (an UNKNOWN field: INVALID_REQUEST), all the filters' records committed together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.metadata.acl_records import RemoveAccessControlEntryRecord, acl_record
from refka.protocol import codec
from refka.security.acl_requests import (
    acl_fields,
    binding_of,
    filter_of,
    invalid_binding,
    unbuildable,
)

if TYPE_CHECKING:
    from refka.controller.quorum_controller import QuorumController


def handle_create_acls(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(ctx.api_key, ctx.api_version)
    existing = set(c.image.acls.values())
    records, results = [], []
    acls = [binding_of(creation) for creation in request.creations]
    broken = next((why for why in map(unbuildable, acls) if why is not None), None)
    if broken is not None:
        failed = codec.build(
            m.AclCreationResult, error_code=ErrorCode.unknown_server_error, error_message=broken
        )
        return codec.build(
            m.CreateAclsResponse, throttle_time=codec.millis(0), results=(failed,) * len(acls)
        )
    for acl in acls:
        why = invalid_binding(acl)
        if why is None and acl not in existing:
            existing.add(acl)
            acl_id = c.random.uuid4()
            while acl_id in c.image.acls:
                acl_id = c.random.uuid4()
            records.append(acl_record(acl_id, acl))
        error = ErrorCode.none if why is None else ErrorCode.invalid_request
        results.append(codec.build(m.AclCreationResult, error_code=error, error_message=why))
    if records:
        c.commit(records, ctx.now_ms)
    return codec.build(m.CreateAclsResponse, throttle_time=codec.millis(0), results=tuple(results))


def handle_delete_acls(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(ctx.api_key, ctx.api_version)
    removed: dict[Any, RemoveAccessControlEntryRecord] = {}
    results = []
    for entry in request.filters:
        acl_filter = filter_of(entry)
        why = acl_filter.invalid()
        matching = []
        if why is None:
            for acl_id, acl in sorted(c.image.acls.items()):
                if acl_filter.matches(acl):
                    removed.setdefault(acl_id, RemoveAccessControlEntryRecord(id=acl_id))
                    matching.append(
                        codec.build(
                            m.DeleteAclsMatchingAcl,
                            error_code=ErrorCode.none,
                            error_message=None,
                            **acl_fields(acl),
                        )
                    )
        error = ErrorCode.none if why is None else ErrorCode.invalid_request
        results.append(
            codec.build(
                m.DeleteAclsFilterResult,
                error_code=error,
                error_message=why,
                matching_acls=tuple(matching),
            )
        )
    if removed:
        c.commit(list(removed.values()), ctx.now_ms)
    return codec.build(
        m.DeleteAclsResponse, throttle_time=codec.millis(0), filter_results=tuple(results)
    )
