package assay.junit;

import java.io.BufferedReader;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.engine.JupiterTestEngine;
import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.engine.FilterResult;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.TestSource;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.engine.support.descriptor.ClassSource;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.PostDiscoveryFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherConfig;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.vintage.engine.VintageTestEngine;

/**
 * The test JVM's side of Assay's junit kind (W). Started by the Python supervisor P as
 * {@code java assay.junit.Agent <harness> <done test>... -- <class>...}: reads P's per-run
 * token from stdin, compiles the instructor's sources ({@code <harness>/src}) in memory
 * against the student's classes (nothing of the tests is ever on disk where the student's
 * code could change it), and runs the classes on the JUnit Platform (Jupiter and Vintage
 * engines only, no auto-registered listeners, filters or configuration files from the class
 * path). It reports the compilation and each test's start and end on file descriptor 3, each
 * line prefixed by the token. Everything this JVM says is untrusted to P: the student's code
 * runs here too, once the tests start.
 */
public final class Agent {
    private static final int MAX_MESSAGE = 1500;
    private static final int MAX_TRACE_LINES = 12;

    private Agent() {}

    public static void main(String[] args) throws Exception {
        String token = readToken(System.in);
        System.setIn(InputStream.nullInputStream());
        PrintStream report =
                new PrintStream(new FileOutputStream("/dev/fd/3"), false, StandardCharsets.UTF_8);
        System.setOut(System.err); // the tests' and the student's prints go to stderr
        Channel channel = new Channel(report, token);
        Path sources = Paths.get(args[0], "src");
        Set<String> skip = new HashSet<>();
        List<String> classNames = new ArrayList<>();
        boolean classes = false;
        for (int i = 1; i < args.length; i++) {
            if (classes) {
                classNames.add(args[i]);
            } else if (args[i].equals("--")) {
                classes = true;
            } else {
                skip.add(args[i]);
            }
        }
        MemoryLoader loader = new MemoryLoader(Agent.class.getClassLoader());
        String errors = Compiler.compile(sources, loader);
        if (errors != null) {
            channel.send("{\"event\":\"compiled\",\"ok\":false,\"message\":" + quote(errors) + "}");
            channel.send("{\"done\":true}");
            Runtime.getRuntime().halt(0);
        }
        channel.send("{\"event\":\"compiled\",\"ok\":true}");
        Thread.currentThread().setContextClassLoader(loader);
        List<DiscoverySelector> selectors = new ArrayList<>();
        for (String name : classNames) {
            try {
                selectors.add(DiscoverySelectors.selectClass(loader.loadClass(name)));
            } catch (ClassNotFoundException | LinkageError e) {
                channel.send("{\"event\":\"class\",\"class\":" + quote(name)
                        + ",\"outcome\":\"error\",\"message\":" + quote(describe(e)) + "}");
            }
        }
        LauncherConfig config =
                LauncherConfig.builder()
                        .enableTestEngineAutoRegistration(false)
                        .enableTestExecutionListenerAutoRegistration(false)
                        .enablePostDiscoveryFilterAutoRegistration(false)
                        .enableLauncherDiscoveryListenerAutoRegistration(false)
                        .enableLauncherSessionListenerAutoRegistration(false)
                        .addTestEngines(new JupiterTestEngine(), new VintageTestEngine())
                        .build();
        PostDiscoveryFilter notDone =
                descriptor -> {
                    String key = keyOf(descriptor.getSource());
                    return key != null && skip.contains(key)
                            ? FilterResult.excluded("already reported")
                            : FilterResult.included("to run");
                };
        LauncherDiscoveryRequest request =
                LauncherDiscoveryRequestBuilder.request()
                        .selectors(selectors)
                        .filters(notDone)
                        .enableImplicitConfigurationParameters(false)
                        .build();
        Launcher launcher = LauncherFactory.create(config);
        launcher.execute(request, new Listener(channel));
        channel.send("{\"done\":true}");
        System.err.flush();
        Runtime.getRuntime().halt(0); // leftover student threads must not keep the JVM alive
    }

    private static String readToken(InputStream in) throws Exception {
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
        String line = reader.readLine();
        return line == null ? "" : line.trim();
    }

    static String keyOf(Optional<TestSource> source) {
        if (source.isPresent() && source.get() instanceof MethodSource) {
            MethodSource method = (MethodSource) source.get();
            return method.getClassName() + "#" + method.getMethodName();
        }
        return null;
    }

    /** The report stream, one token-prefixed JSON object a line. */
    static final class Channel {
        private final PrintStream out;
        private final String token;

        Channel(PrintStream out, String token) {
            this.out = out;
            this.token = token;
        }

        synchronized void send(String json) {
            out.print(token + " " + json + "\n");
            out.flush();
        }
    }

    static final class Listener implements TestExecutionListener {
        private final Channel channel;

        Listener(Channel channel) {
            this.channel = channel;
        }

        @Override
        public void executionStarted(TestIdentifier id) {
            String key = keyOf(id.getSource());
            if (id.isTest() && key != null) {
                channel.send("{\"event\":\"start\",\"test\":" + quote(key) + "}");
            }
        }

        @Override
        public void executionSkipped(TestIdentifier id, String reason) {
            String key = keyOf(id.getSource());
            if (key != null) {
                channel.send(
                        "{\"event\":\"end\",\"test\":" + quote(key)
                                + ",\"outcome\":\"skipped\",\"assertion\":false,\"message\":"
                                + quote(bounded("skipped: " + reason)) + "}");
            }
        }

        @Override
        public void executionFinished(TestIdentifier id, TestExecutionResult result) {
            String key = keyOf(id.getSource());
            Throwable error = result.getThrowable().orElse(null);
            String outcome;
            switch (result.getStatus()) {
                case SUCCESSFUL:
                    outcome = "passed";
                    break;
                case ABORTED:
                    outcome = "skipped";
                    break;
                default:
                    outcome = error instanceof AssertionError ? "failed" : "error";
            }
            String message = error == null ? "" : describe(error);
            if (key != null && (id.isTest() || !outcome.equals("passed"))) {
                // a method's container (parameterized, repeated) reports its own failure too
                channel.send(
                        "{\"event\":\"end\",\"test\":" + quote(key) + ",\"outcome\":\""
                                + outcome + "\",\"assertion\":" + (outcome.equals("failed"))
                                + ",\"message\":" + quote(message) + "}");
            } else if (!outcome.equals("passed") && id.getSource().isPresent()
                    && id.getSource().get() instanceof ClassSource) {
                String name = ((ClassSource) id.getSource().get()).getClassName();
                channel.send(
                        "{\"event\":\"class\",\"class\":" + quote(name) + ",\"outcome\":\""
                                + outcome + "\",\"message\":" + quote(message) + "}");
            }
        }
    }

    /** {@code Type: message} and the first frames of the trace, without JUnit's own. */
    static String describe(Throwable error) {
        StringBuilder text = new StringBuilder(String.valueOf(error));
        int shown = 0;
        for (StackTraceElement frame : error.getStackTrace()) {
            String where = frame.getClassName();
            if (where.startsWith("org.junit.") || where.startsWith("junit.")
                    || where.startsWith("java.") || where.startsWith("jdk.")
                    || where.startsWith("sun.") || where.startsWith("assay.junit.")) {
                continue;
            }
            text.append("\n    at ").append(frame);
            if (++shown == MAX_TRACE_LINES) {
                text.append("\n    ...");
                break;
            }
        }
        Throwable cause = error.getCause();
        if (cause != null && cause != error) {
            text.append("\nCaused by: ").append(cause);
        }
        return bounded(text.toString());
    }

    static String bounded(String text) {
        return text.length() <= MAX_MESSAGE ? text : text.substring(0, MAX_MESSAGE - 3) + "...";
    }

    static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"':
                    out.append("\\\"");
                    break;
                case '\\':
                    out.append("\\\\");
                    break;
                case '\n':
                    out.append("\\n");
                    break;
                case '\t':
                    out.append("\\t");
                    break;
                case '\r':
                    out.append("\\r");
                    break;
                default:
                    if (c < 0x20 || Character.isSurrogate(c)) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        return out.append('"').toString();
    }
}
