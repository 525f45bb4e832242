"""Which methods get published: Go's rules in their Python translation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pytest

from minirpc import RegistrationError, Server
from minirpc.registry import Registry

from conftest import Args, Arith


def test_register_publishes_methods_under_the_class_name():
    service = Registry().register(Arith())
    assert service.name == "Arith"
    assert {"Add", "Mul", "Div", "String", "Scan", "SleepMilli"} <= set(service.methods)


def test_register_name_publishes_under_the_given_name():
    registry = Registry()
    registry.register(Arith(), "Calculator")
    assert registry.lookup("Calculator.Add").name == "Add"


def test_registering_a_name_twice_fails_like_go():
    registry = Registry()
    registry.register(Arith())
    with pytest.raises(RegistrationError, match=r"^rpc: service already defined: Arith$"):
        registry.register(Arith())


def test_empty_service_name_is_refused_like_go():
    with pytest.raises(RegistrationError, match=r"^rpc.Register: no service name for type Arith$"):
        Registry().register(Arith(), "")


def test_private_class_name_is_not_exported():
    class _Hidden:
        def Add(self, args: Args) -> int:
            return 0

    with pytest.raises(RegistrationError, match="type _Hidden is not exported"):
        Registry().register(_Hidden())


class Mixed:
    def Good(self, args: Args) -> int:
        return 1

    def _private(self, args: Args) -> int:
        return 2

    def NoArgs(self) -> int:
        return 3

    def TwoArgs(self, a: int, b: int) -> int:
        return 4

    def Unannotated(self, args) -> int:
        return 5

    def NoReturn(self, args: Args):
        return 6

    def BadType(self, args: set) -> int:
        return 7

    async def Async(self, args: Args) -> int:
        return 8


def test_unsuitable_methods_are_skipped_with_the_rule_they_broke():
    service = Registry().register(Mixed())
    assert list(service.methods) == ["Good"]
    skipped = dict(service.skipped)
    assert skipped["NoArgs"] == "takes 0 arguments after self; needs exactly one"
    assert skipped["TwoArgs"] == "takes 2 arguments after self; needs exactly one"
    assert skipped["Unannotated"] == "argument 'args' has no type annotation"
    assert skipped["NoReturn"].startswith("has no return type annotation")
    assert "set is not a value type" in skipped["BadType"]
    assert "not async" in skipped["Async"]
    assert "_private" not in skipped  # private methods are not candidates at all


def test_no_suitable_method_names_every_method_and_its_rule():
    class Nothing:
        def NoArgs(self) -> int:
            return 1

        def Unannotated(self, args):
            return 2

    with pytest.raises(RegistrationError) as error:
        Registry().register(Nothing())
    text = str(error.value)
    assert text.startswith("rpc.Register: type Nothing has no exported methods of suitable type:")
    assert "Nothing.NoArgs: takes 0 arguments" in text
    assert "Nothing.Unannotated: argument 'args' has no type annotation" in text


def test_a_class_without_public_methods_is_refused():
    class Empty:
        pass

    with pytest.raises(RegistrationError, match="has no exported methods of suitable type"):
        Registry().register(Empty())


def test_inherited_methods_are_published_like_go_promoted_methods():
    class _Base:
        def Hello(self, name: str) -> str:
            return "hello " + name

    class Greeter(_Base):
        pass

    assert "Hello" in Registry().register(Greeter()).methods


@dataclass
class Inner:
    Items: list[int]


@dataclass
class Outer:
    Inner: Inner
    Names: dict[str, Optional[int]]
    Data: bytes


@dataclass
class Bad:
    Callback: object


def test_value_types_include_containers_optionals_and_nested_dataclasses():
    class Service:
        def Do(self, args: Outer) -> list[Inner]:
            return []

    assert "Do" in Registry().register(Service()).methods


def test_a_dataclass_with_an_unsupported_field_type_is_skipped_naming_the_field():
    class Service:
        def Do(self, args: Bad) -> int:
            return 0

        def Ok(self, args: int) -> int:
            return 0

    skipped = dict(Registry().register(Service()).skipped)
    assert "field Bad.Callback" in skipped["Do"]


def test_none_return_means_no_reply():
    class Store:
        def Put(self, key: str) -> None:
            pass

    assert Registry().register(Store()).methods["Put"].reply_type is type(None)


def test_lookup_splits_at_the_last_dot():
    registry = Registry()
    registry.register(Arith(), "net.rpc.Arith")
    assert registry.lookup("net.rpc.Arith.Add").name == "Add"


@pytest.mark.parametrize(
    "name, text",
    [
        ("NoDot", "rpc: service/method request ill-formed: NoDot"),
        ("Nope.Add", "rpc: can't find service Nope.Add"),
        ("Arith.Nope", "rpc: can't find method Arith.Nope"),
    ],
)
def test_lookup_failures_use_gos_exact_texts(name, text):
    registry = Registry()
    registry.register(Arith())
    with pytest.raises(LookupError) as error:
        registry.lookup(name)
    assert str(error.value) == text


def test_method_counts_calls_and_shows_its_signature():
    method = Registry().register(Arith()).methods["Add"]
    method.call(Args(1, 2))
    method.call(Args(3, 4))
    assert method.num_calls == 2
    assert method.signature() == "Add(Args) -> int"


def test_services_are_listed_sorted_by_name():
    server = Server()
    try:
        server.register_name("Zeta", Arith())
        server.register_name("Alpha", Arith())
        assert [s.name for s in server.services()] == ["Alpha", "Zeta"]
    finally:
        server.close()
