package com.gradescope.jh61b.grader;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Assay's own annotation of the same shape and package as the one Gradescope's Java
 * autograders use (jh61b), so their tests compile unchanged. Assay reads the values from
 * the test's source on the grading host, never from the running JVM.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface GradedTest {
    String name() default "";

    String number() default "";

    double max_score() default 1.0;

    String visibility() default "visible";
}
