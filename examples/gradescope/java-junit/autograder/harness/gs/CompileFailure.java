package gs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;

/** results.json for a submission that does not compile: one failed test with javac's errors. */
public final class CompileFailure {
    private CompileFailure() {}

    public static void main(String[] args) throws IOException {
        String errors = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8);
        double points = Double.parseDouble(args[1]);
        String json = "{\n  \"score\": 0,\n  \"output\": \"Your code does not compile.\",\n"
                + "  \"tests\": [{\"name\": \"Compilation\", \"score\": 0, \"max_score\": "
                + Json.number(points) + ", \"status\": \"failed\", \"output\": "
                + Json.string(errors) + "}]\n}\n";
        Files.write(Paths.get(args[2]), json.getBytes(StandardCharsets.UTF_8));
    }
}
