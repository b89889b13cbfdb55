"""The built-in environments as specs (issue 15): one per language Assay grades.

``python3``, ``c``, ``cpp`` and ``java`` keep the Debian packages Assay has always
offered (c and cpp gain clang); the others are Debian bookworm's own toolchains.
A course may derive its own from any of them (``base = "python3"``).

Every probe compiles (where the language compiles) and runs a real program and
checks what it printed, as the sandbox user with ``/`` read-only and only ``/tmp``
and ``/work`` writable, without network. Variables point every toolchain's caches
at ``/tmp`` so nothing but the student's files lands in the workspace.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from assay.sandbox.envs.spec import EnvironmentSpec, SpecSource
from assay.sandbox.limitspec import LimitsSpec
from assay.sandbox.spec import GIB

BUILTIN_ORIGIN = "built-in"

JAVA_LIB = "/usr/share/java"
JUNIT_JARS = (
    "junit4.jar",
    "hamcrest.jar",
    "junit-jupiter-api.jar",
    "junit-jupiter-engine.jar",
    "junit-jupiter-params.jar",
    "junit-platform-commons.jar",
    "junit-platform-engine.jar",
    "junit-platform-launcher.jar",
    "junit-vintage-engine.jar",
    "opentest4j.jar",
    "apiguardian-api.jar",
)
"""JUnit 4.13 (with hamcrest 2.2) and JUnit 5.9 (api, engine, params, platform, vintage),
as Debian's junit4 and junit5 install them."""
JUNIT_CONSOLE = f"{JAVA_LIB}/junit-platform-console-standalone.jar"
"""The JUnit Platform console launcher (``java -jar`` it to run JUnit 4 and 5 tests)."""
JAVA_CLASSPATH = ":".join((".", *(f"{JAVA_LIB}/{jar}" for jar in JUNIT_JARS)))


def _sh(script: str) -> tuple[str, ...]:
    """A probe written as a shell script run in ``/tmp`` that stops at the first failure
    (one command a line: ``set -e`` ignores a failure on the left of ``&&``)."""
    return ("sh", "-c", f"set -e\ncd /tmp\n{script.strip()}\n")


_C = """
cat > hello.c <<'EOF'
#include <stdio.h>
int main(void) { printf("hello %d\\n", 6 * 7); return 0; }
EOF
gcc -Wall -O2 -o hello-gcc hello.c
./hello-gcc | grep -qx 'hello 42'
clang -Wall -O2 -o hello-clang hello.c
./hello-clang | grep -qx 'hello 42'
echo 'gcc and clang: hello 42'
"""

_CPP = """
cat > hello.cpp <<'EOF'
#include <iostream>
#include <numeric>
#include <vector>
int main() {
    std::vector<int> v{20, 22};
    std::cout << "hello " << std::accumulate(v.begin(), v.end(), 0) << std::endl;
}
EOF
g++ -std=c++17 -Wall -O2 -o hello-gcc hello.cpp
./hello-gcc | grep -qx 'hello 42'
clang++ -std=c++17 -Wall -O2 -o hello-clang hello.cpp
./hello-clang | grep -qx 'hello 42'
echo 'g++ and clang++: hello 42'
"""

_JAVA = f"""
cat > Hello.java <<'EOF'
public class Hello {{
    public static void main(String[] args) {{ System.out.println("hello " + (6 * 7)); }}
}}
EOF
cat > Jupiter.java <<'EOF'
import static org.junit.jupiter.api.Assertions.assertEquals;
import org.junit.jupiter.api.Test;
class Jupiter {{ @Test void adds() {{ assertEquals(42, Hello.class.getName().length() + 37); }} }}
EOF
cat > Four.java <<'EOF'
import static org.junit.Assert.assertEquals;
import org.junit.Test;
public class Four {{ @Test public void adds() {{ assertEquals(42, 40 + 2); }} }}
EOF
javac Hello.java Jupiter.java Four.java
java Hello | grep -qx 'hello 42'
java -jar {JUNIT_CONSOLE} --disable-banner --disable-ansi-colors --details=summary \\
    -cp "$CLASSPATH" --select-class Jupiter --select-class Four > junit.txt
grep -q ' 2 tests successful ' junit.txt
echo 'javac and java: hello 42; JUnit 5 and JUnit 4: 2 tests successful'
"""

_KOTLIN = """
cat > hello.kt <<'EOF'
fun main() { println("hello " + listOf(20, 22).sum()) }
EOF
kotlinc hello.kt -include-runtime -d hello.jar
java -jar hello.jar | grep -qx 'hello 42'
echo 'kotlinc and java: hello 42'
"""

_PYTHON = """
cat > hello.py <<'EOF'
import sys
print(f"hello {sum([20, 22])} from Python {sys.version_info.major}")
EOF
python3 hello.py | grep -qx 'hello 42 from Python 3'
python3 -m pytest --version
echo 'python3: hello 42'
"""

_SCIENTIFIC = """
cat > plot.py <<'EOF'
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy
from scipy import integrate

frame = pd.DataFrame({"x": np.arange(7)})
total = int(frame["x"].sum() * 2)
area = integrate.quad(lambda x: x, 0, 2)[0]
plt.plot(frame["x"], frame["x"] ** 2)
plt.savefig("/tmp/plot.png")
print(f"hello {total} {area:.1f} {matplotlib.get_backend()}")
print("numpy", np.__version__, "pandas", pd.__version__, "scipy", scipy.__version__)
EOF
python3 plot.py | tee out.txt
grep -qx 'hello 42 2.0 agg' out.txt
test -s /tmp/plot.png
"""

_JAVASCRIPT = """
cat > hello.js <<'EOF'
const parts = [20, 22];
console.log(`hello ${parts.reduce((a, b) => a + b, 0)}`);
EOF
node hello.js | grep -qx 'hello 42'
echo "node $(node --version): hello 42"
"""

_TYPESCRIPT = """
cat > hello.ts <<'EOF'
const parts: number[] = [20, 22];
const total: number = parts.reduce((a: number, b: number): number => a + b, 0);
console.log(`hello ${total}`);
EOF
tsc --strict --target es2020 --outDir out hello.ts
node out/hello.js | grep -qx 'hello 42'
echo "tsc $(tsc --version): hello 42"
"""

_GO = """
mkdir hello
cd hello
cat > main.go <<'EOF'
package main

import "fmt"

func main() { fmt.Println("hello", 6*7) }
EOF
go mod init example.com/hello 2>/dev/null
go build -o hello .
./hello | grep -qx 'hello 42'
go run . | grep -qx 'hello 42'
echo "$(go version): hello 42"
"""

_RUST = """
cat > hello.rs <<'EOF'
fn main() { println!("hello {}", [20, 22].iter().sum::<i32>()); }
EOF
rustc -O -o hello hello.rs
./hello | grep -qx 'hello 42'
cargo new --quiet --offline --vcs none greet
cp hello.rs greet/src/main.rs
cd greet
cargo run --quiet --offline | grep -qx 'hello 42'
echo "$(rustc --version) and cargo: hello 42"
"""

_RUBY = """
cat > hello.rb <<'EOF'
puts "hello #{[20, 22].sum}"
EOF
ruby hello.rb | grep -qx 'hello 42'
echo "$(ruby --version): hello 42"
"""

_R = """
cat > hello.R <<'EOF'
cat(sprintf("hello %d\\n", sum(c(20L, 22L))))
EOF
Rscript hello.R | grep -qx 'hello 42'
echo 'Rscript: hello 42'
"""

_HASKELL = """
cat > hello.hs <<'EOF'
main :: IO ()
main = putStrLn ("hello " ++ show (sum [20, 22 :: Int]))
EOF
ghc -O -v0 -outputdir build -o hello hello.hs
./hello | grep -qx 'hello 42'
echo "ghc $(ghc --numeric-version): hello 42"
"""

_BASH = """
cat > hello.sh <<'EOF'
parts=(20 22)
echo "hello $(( parts[0] + parts[1] )) from bash ${BASH_VERSINFO[0]}"
EOF
bash hello.sh | tee out.txt
grep -qx 'hello 42 from bash 5' out.txt
"""

_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""numpy and scipy start a thread per core otherwise (each counts against ``pids``)."""

_SPECS = (
    EnvironmentSpec(
        name="python3",
        description="Python 3.11 (Debian's python3) with pytest",
        apt=("python3", "python3-pytest"),
        probe=_sh(_PYTHON),
    ),
    EnvironmentSpec(
        name="python3-scientific",
        description="Python 3.11 with pytest, numpy, pandas, scipy and matplotlib (Agg)",
        base="python3",
        apt=(
            "python3-numpy",
            "python3-pandas",
            "python3-scipy",
            "python3-matplotlib",
        ),
        env={"MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib", **_ONE_THREAD},
        probe=_sh(_SCIENTIFIC),
        limits=LimitsSpec(memory=1 * GIB),
    ),
    EnvironmentSpec(
        name="c",
        description="C: gcc 12 and clang 14, make, valgrind",
        apt=("gcc", "libc6-dev", "make", "valgrind", "clang"),
        probe=_sh(_C),
    ),
    EnvironmentSpec(
        name="cpp",
        description="C++: g++ 12 and clang++ 14, make, valgrind",
        apt=("g++", "make", "valgrind", "clang"),
        probe=_sh(_CPP),
    ),
    EnvironmentSpec(
        name="java",
        description="Java: OpenJDK 17 with JUnit 5 and JUnit 4 on the class path",
        apt=("openjdk-17-jdk-headless", "junit4", "junit5"),
        env={"CLASSPATH": JAVA_CLASSPATH},
        probe=_sh(_JAVA),
        limits=LimitsSpec(memory=1 * GIB, pids=128),
    ),
    EnvironmentSpec(
        name="kotlin",
        description="Kotlin 1.3 (kotlinc) on OpenJDK 17",
        apt=("kotlin", "openjdk-17-jre-headless"),
        # kotlinc reads JAVA_OPTS (its default heap is 256 MiB); -XX:-PrintWarnings hides
        # JDK 17's warning about the -noverify that Kotlin 1.3's script always passes.
        env={"JAVA_OPTS": "-Xmx1g -Xms32m -XX:-PrintWarnings"},
        probe=_sh(_KOTLIN),
        limits=LimitsSpec(memory=2 * GIB, pids=256, cpu_time_s=60, wall_time_s=120),
    ),
    EnvironmentSpec(
        name="javascript",
        description="JavaScript: Node.js 18",
        apt=("nodejs",),
        probe=_sh(_JAVASCRIPT),
        limits=LimitsSpec(memory=1 * GIB),
    ),
    EnvironmentSpec(
        name="typescript",
        description="TypeScript 4.8 (tsc) on Node.js 18",
        apt=("nodejs", "node-typescript"),
        probe=_sh(_TYPESCRIPT),
        limits=LimitsSpec(memory=1 * GIB, cpu_time_s=30, wall_time_s=60),
    ),
    EnvironmentSpec(
        name="go",
        description="Go 1.19",
        apt=("golang-go",),
        # No network in runs: GOPROXY=off fails a missing module at once, by name.
        env={"GOCACHE": "/tmp/go-cache", "GOPATH": "/tmp/go", "GOPROXY": "off"},
        probe=_sh(_GO),
        limits=LimitsSpec(memory=1 * GIB, pids=256, cpu_time_s=30, wall_time_s=60),
    ),
    EnvironmentSpec(
        name="rust",
        description="Rust 1.63: rustc and cargo (offline)",
        apt=("rustc", "cargo"),
        env={"CARGO_HOME": "/tmp/cargo", "CARGO_NET_OFFLINE": "true"},
        probe=_sh(_RUST),
        limits=LimitsSpec(memory=1 * GIB, pids=256, cpu_time_s=30, wall_time_s=60),
    ),
    EnvironmentSpec(
        name="ruby",
        description="Ruby 3.1",
        apt=("ruby",),
        probe=_sh(_RUBY),
    ),
    EnvironmentSpec(
        name="r",
        description="R 4.2 (r-base-core: R and Rscript)",
        apt=("r-base-core",),
        probe=_sh(_R),
        limits=LimitsSpec(memory=1 * GIB),
    ),
    EnvironmentSpec(
        name="haskell",
        description="Haskell: GHC 9.0",
        apt=("ghc",),
        probe=_sh(_HASKELL),
        limits=LimitsSpec(memory=2 * GIB, pids=128, cpu_time_s=30, wall_time_s=60),
    ),
    EnvironmentSpec(
        name="bash",
        description="Bash 5.2 with coreutils, grep, sed, gawk",
        apt=("bash", "coreutils", "grep", "sed", "gawk"),
        probe=_sh(_BASH),
    ),
)

BUILTIN_SPECS: Mapping[str, EnvironmentSpec] = MappingProxyType(
    {spec.name: spec for spec in _SPECS if spec.name}
)


def builtin_source(name: str) -> SpecSource | None:
    """The built-in spec called ``name``, if there is one."""
    spec = BUILTIN_SPECS.get(name)
    return None if spec is None else SpecSource(spec, None, BUILTIN_ORIGIN)
