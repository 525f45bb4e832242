"""Plain values <-> typed values: what the annotation of a method means."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import pytest

from minirpc.values import from_plain, to_plain, zero_value

from conftest import Args, Post


def test_a_dict_becomes_the_dataclass():
    assert from_plain({"A": 7, "B": 8}, Args) == Args(7, 8)


def test_field_names_match_case_insensitively_like_go_json():
    assert from_plain({"a": 7, "b": 8}, Args) == Args(7, 8)


def test_unknown_keys_are_ignored_and_missing_fields_keep_defaults():
    assert from_plain({"A": 1, "Extra": 2}, Args) == Args(1, 0)


def test_a_wrong_field_type_names_the_field():
    with pytest.raises(ValueError, match=r"^args\.B: expected int, got str$"):
        from_plain({"A": 1, "B": "two"}, Args, "args")


def test_a_non_object_for_a_dataclass_says_what_was_expected():
    with pytest.raises(ValueError, match=r"args: expected an object for type Args, got list"):
        from_plain([1, 2], Args, "args")


def test_nested_paths_are_named_in_errors():
    with pytest.raises(ValueError, match=r"post\.Tags\[1\]: expected str, got int"):
        from_plain({"ID": 1, "Tags": ["a", 2]}, Post, "post")


def test_bool_is_not_an_int_and_int_is_not_a_bool():
    with pytest.raises(ValueError):
        from_plain(True, int)
    with pytest.raises(ValueError):
        from_plain(1, bool)


def test_integral_float_is_accepted_as_int_and_int_as_float():
    assert from_plain(15.0, int) == 15
    assert from_plain(3, float) == 3.0 and isinstance(from_plain(3, float), float)


def test_bytes_arrive_as_base64_text_like_go_json():
    assert from_plain("aGk=", bytes) == b"hi"
    with pytest.raises(ValueError, match="base64"):
        from_plain("not base64!", bytes)


def test_map_keys_are_converted_from_json_text():
    assert from_plain({"7": 8}, dict[int, int]) == {7: 8}


def test_optional_accepts_none_and_the_type():
    assert from_plain(None, Optional[int]) is None
    assert from_plain(3, Optional[int]) == 3


def test_annotated_counts_as_its_type():
    assert from_plain(3, Annotated[int, "uint"]) == 3


def test_any_passes_everything_through():
    assert from_plain({"x": [1]}, Any) == {"x": [1]}


def test_none_type_accepts_go_empty_struct():
    assert from_plain({}, type(None)) is None


def test_to_plain_turns_nested_dataclasses_into_dicts():
    assert to_plain([Post(1, "t", ["a"])]) == [{"ID": 1, "Title": "t", "Tags": ["a"]}]


def test_zero_value_of_a_dataclass_is_all_zero_fields():
    assert zero_value(Post) == Post(0, "", [])
    assert zero_value(dict[str, int]) == {}


def test_a_fixed_size_tuple_is_a_go_array_of_that_size():
    assert from_plain([1, 0, 3], tuple[int, int, int]) == (1, 0, 3)
    with pytest.raises(ValueError, match=r"expected 3 elements for tuple\[int, int, int\], got 2"):
        from_plain([1, 2], tuple[int, int, int])


def test_a_variable_tuple_takes_any_length():
    assert from_plain([1, 2, 3, 4], tuple[int, ...]) == (1, 2, 3, 4)


def test_a_null_array_is_all_zeros_like_go():
    assert from_plain(None, tuple[str, str]) == ("", "")
    assert zero_value(tuple[int, ...]) == ()


def test_a_tuple_of_mixed_types_is_not_a_value_type():
    from minirpc.values import is_value_type

    assert "one element type" in is_value_type(tuple[int, str])
    assert is_value_type(tuple[int, int]) is None


def test_to_plain_turns_tuples_into_lists():
    assert to_plain((Args(1, 2), Args(3, 4))) == [{"A": 1, "B": 2}, {"A": 3, "B": 4}]
