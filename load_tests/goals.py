"""A load test's goals: each printed as met or FAILED when it is checked, and the exit status at the end."""


class Goals:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, met: bool, goal: str) -> bool:
        print(f"  {'met' if met else 'FAILED'}: {goal}")
        if not met:
            self.failed.append(goal)
        return met

    def exit_status(self) -> int:
        """0 when every goal was met; otherwise 1, after listing the failed goals once more."""
        if not self.failed:
            print("all goals met")
            return 0
        print(f"{len(self.failed)} goal(s) failed:")
        for goal in self.failed:
            print(f"  FAIL: {goal}")
        return 1
