"""``sila2`` feature implementations: each SiLA 2 call of :mod:`.features` to a device method.

``sila2`` finds an implementation's methods by name (see its ``FeatureImplementationServicer``),
and the names are the FDL identifiers, not Python's: an unobservable command
``Name(*parameters, metadata)``, an observable command ``Name(*parameters, metadata, instance)``,
an unobservable property ``get_Name(metadata)``, an observable property a
``_Name_producer_queue`` plus ``Name_on_subscription(metadata)``. Parameters arrive positionally,
in FDL order, so the methods name them like the FDL does. Each command only converts values
(:mod:`instruments.sila.codec`) and hands the device call to the shared
:class:`~instruments.sila.runner.CommandRunner`.
"""

from __future__ import annotations

from collections.abc import Sequence
from queue import Queue
from typing import Any

from sila2.server import (
    FeatureImplementationBase,
    MetadataDict,
    ObservableCommandInstance,
    SilaServer,
)

from cfl.devices import Doses, Heats, Measures, Reacts, Stoppable, Transfers
from instruments.sila import features as f
from instruments.sila.codec import (
    conditions_from_wire,
    measurands_to_wire,
    reading_to_wire,
)
from instruments.sila.runner import CommandRunner

__all__ = ["IMPLEMENTATIONS", "DeviceInfoImpl"]


class _Impl(FeatureImplementationBase):
    """Base: holds the runner, and aborts the device's commands when the server stops."""

    def __init__(self, parent_server: SilaServer, runner: CommandRunner) -> None:
        super().__init__(parent_server=parent_server)
        self._runner = runner

    def stop(self) -> None:
        # SilaServer.stop() waits for every call thread to end; a hung command would block it.
        self._runner.abort_all()
        super().stop()


class DeviceInfoImpl(_Impl):
    """``DeviceInfo``: name, kind, capabilities and the observable ``Status``."""

    def __init__(
        self, parent_server: SilaServer, runner: CommandRunner, capabilities: Sequence[str]
    ) -> None:
        super().__init__(parent_server, runner)
        self._capabilities = list(capabilities)
        self._Status_producer_queue: Queue[str] = Queue()

    def start(self) -> None:
        self._runner.watch_status(self._Status_producer_queue)
        super().start()

    def stop(self) -> None:
        self._runner.unwatch_status(self._Status_producer_queue)
        super().stop()

    def get_DeviceName(self, *, metadata: MetadataDict) -> str:
        return self._runner.name

    def get_DeviceKind(self, *, metadata: MetadataDict) -> str:
        return type(self._runner.device).__name__

    def get_Capabilities(self, *, metadata: MetadataDict) -> list[str]:
        return list(self._capabilities)

    def Status_on_subscription(self, *, metadata: MetadataDict) -> None:
        return None  # every subscriber reads the one default queue


class TransfersImpl(_Impl):
    def Pick(
        self,
        Sample: str,
        Location: str,
        *,
        metadata: MetadataDict,
        instance: ObservableCommandInstance,
    ) -> None:
        device = self._runner.device
        assert isinstance(device, Transfers)
        self._runner.run(
            f.TRANSFERS,
            "Pick",
            device.pick(Sample, Location),
            cfl_command="pick",
            arguments={"sample": Sample, "location": Location},
            instance=instance,
        )

    def Place(
        self,
        Sample: str,
        Location: str,
        *,
        metadata: MetadataDict,
        instance: ObservableCommandInstance,
    ) -> None:
        device = self._runner.device
        assert isinstance(device, Transfers)
        self._runner.run(
            f.TRANSFERS,
            "Place",
            device.place(Sample, Location),
            cfl_command="place",
            arguments={"sample": Sample, "location": Location},
            instance=instance,
        )


class ReactsImpl(_Impl):
    def React(
        self,
        Sample: str,
        Conditions: Sequence[Any],
        *,
        metadata: MetadataDict,
        instance: ObservableCommandInstance,
    ) -> None:
        device = self._runner.device
        assert isinstance(device, Reacts)
        conditions = conditions_from_wire(Conditions)
        self._runner.run(
            f.REACTS,
            "React",
            device.react(Sample, conditions),
            cfl_command="react",
            arguments={"sample": Sample, "conditions": conditions},
            instance=instance,
        )


class MeasuresImpl(_Impl):
    def Measure(
        self, Sample: str, *, metadata: MetadataDict, instance: ObservableCommandInstance
    ) -> dict[str, Any]:
        device = self._runner.device
        assert isinstance(device, Measures)
        reading = self._runner.run(
            f.MEASURES,
            "Measure",
            device.measure(Sample),
            cfl_command="measure",
            arguments={"sample": Sample},
            instance=instance,
        )
        return reading_to_wire(reading)

    def get_Measurands(self, *, metadata: MetadataDict) -> list[dict[str, Any]]:
        return measurands_to_wire(getattr(self._runner.device, "measurands", {}))


class DosesImpl(_Impl):
    def Dose(
        self,
        Sample: str,
        Reagent: str,
        Amount: float,
        *,
        metadata: MetadataDict,
        instance: ObservableCommandInstance,
    ) -> float:
        device = self._runner.device
        assert isinstance(device, Doses)
        return float(
            self._runner.run(
                f.DOSES,
                "Dose",
                device.dose(Sample, Reagent, Amount),
                cfl_command="dose",
                arguments={"sample": Sample, "reagent": Reagent, "amount": Amount},
                instance=instance,
            )
        )


class HeatsImpl(_Impl):
    def Heat(
        self,
        Sample: str,
        TargetTemperature: float,
        *,
        metadata: MetadataDict,
        instance: ObservableCommandInstance,
    ) -> float:
        device = self._runner.device
        assert isinstance(device, Heats)
        return float(
            self._runner.run(
                f.HEATS,
                "Heat",
                device.heat(Sample, TargetTemperature),
                cfl_command="heat",
                arguments={"sample": Sample, "target_c": TargetTemperature},
                instance=instance,
            )
        )


class StoppableImpl(_Impl):
    def Stop(self, *, metadata: MetadataDict) -> None:
        device = self._runner.device
        assert isinstance(device, Stoppable)
        self._runner.stop_device(device.stop(), f.STOPPABLE)


IMPLEMENTATIONS: dict[str, type[_Impl]] = {
    "transfers": TransfersImpl,
    "reacts": ReactsImpl,
    "measures": MeasuresImpl,
    "doses": DosesImpl,
    "heats": HeatsImpl,
    "stoppable": StoppableImpl,
}
"""The implementation of each capability's feature, by capability name."""
