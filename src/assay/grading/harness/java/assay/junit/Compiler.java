package assay.junit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.FileObject;
import javax.tools.ForwardingJavaFileManager;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileManager;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/** Compiles the instructor's sources into a {@link MemoryLoader}, before any student code runs. */
final class Compiler {
    private static final int MAX_ERRORS = 3000;

    private Compiler() {}

    /** {@code null} when every source compiled, else javac's messages. */
    static String compile(Path sources, MemoryLoader loader) throws IOException {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            return "this Java has no compiler (a JDK is needed, not only a JRE)";
        }
        List<Path> files;
        try (Stream<Path> walk = Files.walk(sources)) {
            files = walk.filter(p -> p.toString().endsWith(".java")).sorted().collect(Collectors.toList());
        }
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        StandardJavaFileManager standard =
                javac.getStandardFileManager(diagnostics, Locale.ROOT, StandardCharsets.UTF_8);
        List<String> options = new ArrayList<>(List.of(
                "-proc:none", // no annotation processors (the student's class path could name one)
                "-implicit:none",
                "-nowarn",
                "-encoding", "UTF-8",
                "-sourcepath", sources.toString(), // never the student's .java files
                "-classpath", System.getProperty("java.class.path")));
        JavaFileManager memory = new ForwardingJavaFileManager<StandardJavaFileManager>(standard) {
            @Override
            public JavaFileObject getJavaFileForOutput(
                    Location location, String className, JavaFileObject.Kind kind, FileObject sibling) {
                return new SimpleJavaFileObject(URI.create("mem:///" + className.replace('.', '/')
                        + kind.extension), kind) {
                    @Override
                    public OutputStream openOutputStream() {
                        return new ByteArrayOutputStream() {
                            @Override
                            public void close() {
                                loader.add(className, toByteArray());
                            }
                        };
                    }
                };
            }
        };
        boolean ok = javac.getTask(null, memory, diagnostics, options, null,
                standard.getJavaFileObjectsFromPaths(files)).call();
        if (ok) {
            return null;
        }
        StringBuilder text = new StringBuilder();
        String prefix = sources.toString() + "/";
        for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
            if (d.getKind() != Diagnostic.Kind.ERROR) {
                continue;
            }
            String file = d.getSource() == null ? "" : d.getSource().getName().replace(prefix, "");
            text.append(file).append(':').append(d.getLineNumber()).append(": error: ")
                    .append(d.getMessage(Locale.ROOT)).append('\n');
            if (text.length() > MAX_ERRORS) {
                text.append("...\n");
                break;
            }
        }
        return text.toString().strip();
    }
}
