// Runs Mustang's validator on PDF or XML files, in one JVM (Java 17's source launcher: no build step),
// for loginless.testkit.einvoice:
//   java -cp '<einvoice-validator jars>/*' ValidateEInvoice.java a.pdf b.pdf ...
// For a Factur-X PDF it checks the PDF against PDF/A-3 (veraPDF) and the embedded XML against the XSD and the
// EN 16931 Schematron. Prints, for each file, a line "== <file> valid|invalid" and Mustang's XML report.
import org.mustangproject.validator.ZUGFeRDValidator;

public class ValidateEInvoice {
    public static void main(String[] args) {
        for (String file : args) {
            ZUGFeRDValidator validator = new ZUGFeRDValidator();
            validator.disableNotices();
            String report = validator.validate(file);
            System.out.println("== " + file + " " + (validator.wasCompletelyValid() ? "valid" : "invalid"));
            System.out.println(report);
        }
    }
}
