package gs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/** Runs JUnit 4 test classes and writes Gradescope's results.json. */
public final class RunTests extends RunListener {
    private final Map<Description, String> failures = new LinkedHashMap<>();
    private final List<Description> finished = new ArrayList<>();

    @Override
    public void testFailure(Failure failure) {
        String message = failure.getMessage();
        failures.put(failure.getDescription(),
                failure.getException().getClass().getSimpleName()
                        + (message == null ? "" : ": " + message));
    }

    @Override
    public void testFinished(Description description) {
        finished.add(description);
    }

    private String results(long millis) {
        StringBuilder tests = new StringBuilder();
        int passed = 0;
        for (Description test : finished) {
            GradedTest graded = test.getAnnotation(GradedTest.class);
            if (graded == null) {
                continue;
            }
            String failure = failures.get(test);
            if (failure == null) {
                passed++;
            }
            String name = graded.name().isEmpty() ? test.getMethodName() : graded.name();
            tests.append(tests.length() == 0 ? "\n    " : ",\n    ")
                    .append("{\"name\": ").append(Json.string(name))
                    .append(", \"number\": ").append(Json.string(graded.number()))
                    .append(", \"score\": ").append(Json.number(failure == null ? graded.points() : 0))
                    .append(", \"max_score\": ").append(Json.number(graded.points()))
                    .append(", \"status\": ").append(failure == null ? "\"passed\"" : "\"failed\"")
                    .append(", \"visibility\": ").append(Json.string(graded.visibility()))
                    .append(", \"output\": ").append(Json.string(failure == null ? "" : failure))
                    .append("}");
        }
        return "{\n  \"execution_time\": " + Json.number(millis / 1000.0)
                + ",\n  \"output\": " + Json.string(passed + " JUnit tests passed")
                + ",\n  \"tests\": [" + tests + "\n  ]\n}\n";
    }

    public static void main(String[] args) throws ClassNotFoundException, IOException {
        RunTests listener = new RunTests();
        JUnitCore core = new JUnitCore();
        core.addListener(listener);
        Class<?>[] classes = new Class<?>[args.length - 1];
        for (int i = 1; i < args.length; i++) {
            classes[i - 1] = Class.forName(args[i]);
        }
        long started = System.currentTimeMillis();
        core.run(classes);
        String json = listener.results(System.currentTimeMillis() - started);
        Files.write(Paths.get(args[0]), json.getBytes(StandardCharsets.UTF_8));
    }
}
