"""ProducerIdControlManager (KIP-730): blocks of 1000, never handed out twice."""

from __future__ import annotations

import pytest
from refka.controller.producer_id_control import BLOCK_SIZE, generate_next_producer_id_block
from refka.metadata.image import MetadataImage


def test_blocks_follow_each_other_through_the_image() -> None:
    image = MetadataImage.empty("c")
    starts = []
    for broker_id in (1, 2, 1):
        block, record = generate_next_producer_id_block(
            max(image.next_producer_id, 0), broker_id, 7
        )
        starts.append(block.first_producer_id)
        assert block.size == BLOCK_SIZE and record.broker_id == broker_id
        image, _ = image.apply(image.offset + 1, [record])
    assert starts == [0, 1000, 2000]
    assert image.next_producer_id == 3000


def test_exhausted_id_space() -> None:
    with pytest.raises(ValueError):
        generate_next_producer_id_block((1 << 63) - 10, 1, 1)
